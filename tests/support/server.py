"""A real simgate server (uvicorn) on an ephemeral loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from simgate.app import create_app
from simgate.config import Settings
from simgate.context import Context
from simgate.services import accounts, devices
from simgate.serving import Server, server_config

T = TypeVar("T")

#: The password of every account ``LiveServer.create_account`` makes (the dashboard signs in
#: with it).
PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: int
    email: str
    api_key: str


@dataclass
class PairedDevice:
    sid: str
    token: str


class LiveServer:
    """Starts ``create_app(settings)`` under uvicorn; ``url`` is the base URL.

    ``server_options`` go to uvicorn's configuration, over simgate's own (``server_config``).
    """

    def __init__(self, settings_for: Callable[[str], Settings], **server_options: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings_for(self.url)
        self.app = create_app(self.settings)
        self.ctx: Context = self.app.state.ctx
        # simgate's own uvicorn configuration (timeouts, protocol), as `simgate serve` runs it.
        self._server = Server(
            server_config(
                self.app, self.settings, lifespan="on", ws_ping_interval=None, **server_options
            )
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._emails = 0

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    @contextmanager
    def borrowed(self) -> Iterator[LiveServer]:
        """The server for one test of many sharing it: what a test may change (the clock of
        its context) is put back afterwards, so the next test finds the server as started."""
        clock = self.ctx.clock
        try:
            yield self
        finally:
            self.ctx.clock = clock

    def call(self, coro: Awaitable[T], timeout: float = 15) -> T:
        """Run a coroutine on the server's own loop (same engine, same dispatcher)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def create_account(self, email: str | None = None) -> Account:
        self._emails += 1
        email = email or f"user{self._emails}@example.test"
        created = self.call(accounts.create_account(self.ctx, email, PASSWORD))
        return Account(id=created.account_id, email=email, api_key=created.api_key)

    def add_device(self, account: Account, label: str = "phone") -> PairedDevice:
        paired = self.call(devices.add_device(self.ctx, account.email, label))
        return PairedDevice(sid=paired.sid, token=paired.token)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)


class ServerPool:
    """Live servers shared by a group of tests (a module, a class), one per distinct set of
    settings, each on its own fresh database; started on first use, stopped by ``stop_all``.

    Tests sharing a server stay independent by creating their own account (every query is
    scoped by account), which is cheap; starting a server is not.
    """

    def __init__(
        self, settings_for: Callable[..., Settings], new_database: Callable[[str], str]
    ) -> None:
        self._settings_for = settings_for
        self._new_database = new_database
        self._servers: dict[tuple[tuple[str, object], ...], LiveServer] = {}

    def get(self, engine: str = "sqlite", **overrides: object) -> LiveServer:
        """The shared server on ``engine`` ("sqlite", "postgres") with these settings."""
        key = (("engine", engine), *sorted(overrides.items()))
        if key not in self._servers:
            database_url = self._new_database(engine)
            self._servers[key] = LiveServer(
                lambda base: self._settings_for(database_url, base, **overrides)
            ).start()
        return self._servers[key]

    def stop_all(self) -> None:
        for live in self._servers.values():
            live.stop()
        self._servers.clear()
