"""Fixtures for the agent tests: the anyio backend and a factory of agent runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.scripted_server import AgentFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def agents(tmp_path: Path) -> AgentFactory:
    return AgentFactory(tmp_path)
