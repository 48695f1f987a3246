"""Fixtures for the agent tests: the anyio backend, a factory of agent runs, a modem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.modem_emulator import ModemEmulator
from tests.agent.scripted_server import AgentFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def agents(tmp_path: Path) -> AgentFactory:
    return AgentFactory(tmp_path)


@pytest.fixture
def modem() -> Iterator[ModemEmulator]:
    """A GSM modem emulated on a pseudo-terminal (see :mod:`tests.agent.modem_emulator`)."""
    emulator = ModemEmulator()
    yield emulator
    emulator.close()
