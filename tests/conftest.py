"""Shared fixtures: migrated databases on both engines, a live server, accounts and devices."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simgate.config import Settings
from tests.support.databases import PostgresFactory, SqliteFactory
from tests.support.server import LiveServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteFactory:
    return SqliteFactory(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_factory() -> Iterator[PostgresFactory]:
    factory = PostgresFactory()
    yield factory
    factory.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database, once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_factory").new()  # type: ignore[no-any-return]
    return request.getfixturevalue("postgres_factory").new()  # type: ignore[no-any-return]


@pytest.fixture
def sqlite_url(sqlite_factory: SqliteFactory) -> str:
    return sqlite_factory.new()


def make_settings(database_url: str, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "public_base_url": base_url,
        "default_region": "BE",
        "log_level": "warning",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def server_factory(
    sqlite_url: str,
) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers on a fresh SQLite database (or the URL given); stopped after the test."""
    started: list[LiveServer] = []

    def start(database_url: str | None = None, **overrides: object) -> LiveServer:
        url = database_url or sqlite_url
        live = LiveServer(lambda base: make_settings(url, base, **overrides)).start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


@pytest.fixture
def server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory()


def eventually(
    check: Callable[[], object], timeout: float = 10.0, interval: float = 0.02
) -> object:
    """Wait for ``check`` to return something truthy (a test's wait, bounded in time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


@pytest.fixture
def tmp_outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox.jsonl"
