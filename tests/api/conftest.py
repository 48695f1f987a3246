"""The API tests share one live server per module (per engine and set of settings): starting a
server costs more than most tests, and each test stays independent with its own account."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.server import LiveServer


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """The module's shared live server, with default settings, on SQLite."""
    return shared_servers()
