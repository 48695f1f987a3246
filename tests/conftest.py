"""Shared fixtures: migrated databases on both engines, a live server, accounts, devices, an
HTTP client of the server and real agents."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from simgate.config import Settings
from simgate.logs import configure_logging
from simgate.services.devices import Device
from tests.support.api import device_of
from tests.support.databases import PostgresFactory, SqliteFactory
from tests.support.server import Account, LiveServer, PairedDevice, ServerPool

if TYPE_CHECKING:
    from tests.support.devices import RunningAgent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    """The suite embeds the app as any host application would, so it configures logging
    itself, as ``simgate serve`` does: warnings and errors only."""
    configure_logging("warning")


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


_KEY_DIR = Path(tempfile.mkdtemp(prefix="simgate-test-keys-"))


def _sqlite_file(database_url: str) -> bool:
    return database_url.startswith("sqlite") and ":memory:" not in database_url


def make_settings(database_url: str, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "public_base_url": base_url,
        "default_region": "BE",
        "log_level": "warning",
        # Hundreds of accounts are made; Argon2's production cost is tested on its own.
        "password_hash_cost": "test",
        # Rate limits off unless a test turns them on: the module's tests share servers and all
        # come from 127.0.0.1, so one test's wrong keys would throttle the next test.
        # tests/api/test_access_limits.py runs them with their defaults.
        "api_rate_per_second": 0,
        "auth_failures_per_minute": 0,
        **overrides,
    }
    if "secret_key" not in values and not _sqlite_file(database_url):
        # Without a SQLite file (PostgreSQL, :memory:) the key file would go to the working
        # directory: the checkout itself.
        values.setdefault("secret_key_file", str(_KEY_DIR / "simgate.key"))
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


@pytest.fixture(scope="module")
def module_servers(
    request: pytest.FixtureRequest, sqlite_factory: SqliteFactory
) -> Iterator[ServerPool]:
    """The live servers the tests of one module share, one per engine and set of settings."""

    def new_database(engine: str) -> str:
        if engine == "postgres":
            return request.getfixturevalue("postgres_factory").new()  # type: ignore[no-any-return]
        return sqlite_factory.new()

    pool = ServerPool(make_settings, new_database)
    yield pool
    pool.stop_all()


@pytest.fixture
def shared_servers(module_servers: ServerPool) -> Iterator[Callable[..., LiveServer]]:
    """``shared_servers(engine="sqlite", **overrides)``: a live server that the module's other
    tests with the same engine and settings share; what a test changes on it (the clock) is
    put back after the test. Tests stay independent by each creating their own account."""
    with ExitStack() as borrowed:
        yield lambda **options: borrowed.enter_context(module_servers.get(**options).borrowed())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn, for tests that run on SQLite and on the real PostgreSQL."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A live server of this test only (see ``shared_servers`` for one shared by a module)."""
    return server_factory()


@pytest.fixture
def account(server: LiveServer) -> Account:
    """A new account on ``server``, with its API key."""
    return server.create_account()


@pytest.fixture
def phone(server: LiveServer, account: Account) -> PairedDevice:
    """A device paired to ``account`` (not connected)."""
    return server.add_device(account)


@pytest.fixture
def device(server: LiveServer, phone: PairedDevice) -> Device:
    """The server's view of ``phone``, for calling the services as its frames would."""
    return device_of(server, phone)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client of ``server``, closed after the test."""
    with server.client() as client:
        yield client


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    """Start real agents (simulator driver) for a server's devices; stopped after the test."""
    # Imported here, not at the top: only the tests that start agents need the agent package.
    from tests.support.devices import RunningAgent

    started: list[RunningAgent] = []

    def start(server: LiveServer, token: str, **options: Any) -> RunningAgent:
        agent = RunningAgent(server.url, token, tmp_path / f"agent{len(started)}", **options)
        started.append(agent.start())
        return agent

    yield start
    for agent in started:
        agent.stop()


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
