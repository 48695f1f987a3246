"""Fixtures for the agent tests: the anyio backend and a factory of agent runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.scripted_server import AgentFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[AgentFactory]:
    yield AgentFactory(tmp_path)
