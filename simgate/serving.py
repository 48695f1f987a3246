"""Running the ASGI app under uvicorn, as ``simgate serve`` and ``simgate demo`` do.

Two things uvicorn does not do on its own:

- A clean stop on SIGTERM/SIGINT exits with status 0. uvicorn re-raises the captured signal
  after its graceful shutdown, so the process dies "killed by SIGTERM" and service managers and
  scripts see a failure for a clean stop. :class:`Server` installs the same handlers through the
  public ``capture_signals`` hook, without the re-raise.
- A connection that sends no complete request head in time is closed. uvicorn's keep-alive timer
  starts only after a response, and is cancelled by the first byte of the next request, so a
  connection that never sends anything, or sends a header line now and then ("slowloris"),
  stays open for ever. The protocols below give every request head a deadline, counted from
  the connection's start or from the end of its previous response, and never extended by a
  trickle of bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import threading
from collections.abc import Callable, Generator
from typing import Any, cast

import structlog
import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.protocols.http import h11_impl, httptools_impl

from simgate import __version__
from simgate.config import Settings
from simgate.context import Context
from simgate.logs import install_secret_mask
from simgate.preflight import redacted_url
from simgate.protocol import MAX_FRAME_BYTES
from simgate.services import health

#: The signals that stop the server gracefully; a second SIGINT forces the exit (uvicorn's rule).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = structlog.get_logger("simgate.server")


class Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM/SIGINT that ends in a clean shutdown exits with status 0,
    and the start and the stop each say so in one line of simgate's log format."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        settings = getattr(self.config, "settings", None)
        if self.should_exit or not isinstance(settings, Settings):
            return
        bound = [sock.getsockname() for server in self.servers for sock in server.sockets]
        host, port = (bound[0][0], bound[0][1]) if bound else (settings.host, settings.port)
        log.info(
            "server_started",
            version=__version__,
            address=f"http://{host}:{port}",
            database=redacted_url(settings.database_url),
            # simgate has no plan limit: every paired phone may connect.
            phones_allowed="unlimited",
            phones_paired=await self._phones_paired(),
            access_log=settings.access_log,
            # With ``serve --workers N``, each of the N processes writes this line.
            workers=self.config.workers,
            pid=os.getpid(),
        )

    async def _phones_paired(self) -> int | None:
        ctx = getattr(getattr(self.config.app, "state", None), "ctx", None)
        if not isinstance(ctx, Context):
            return None
        try:
            return (await health.gauges(ctx)).devices_total
        except (SQLAlchemyError, OSError):
            return None  # /readyz says why; the start line is no place to fail

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        log.info("server_stopped")

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Signals can only be handled in the main thread (an embedding app's server thread
        # leaves them to its owner).
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Config(uvicorn.Config):
    """uvicorn's configuration plus the deadline of a request head, in seconds."""

    def __init__(
        self,
        app: Any,
        *,
        timeout_request_head: float,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.timeout_request_head = timeout_request_head
        self.settings = settings


def server_config(app: Any, settings: Settings, **options: Any) -> Config:
    """The one uvicorn configuration of simgate's servers: address, timeouts, protocol.

    uvicorn's own X-Forwarded-For handling is off (it trusts 127.0.0.1 by default): the client
    address is decided in one place, ``api.guard``, from ``SIMGATE_TRUSTED_PROXIES``. uvicorn
    leaves logging alone (``log_config=None``): its records reach the root handler of
    :func:`simgate.logs.configure_logging`, in simgate's format; its own access log is off, as
    simgate's ``RequestObserver`` writes one (with the route's time and masking) instead.
    """
    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": False,
        "http": http_protocol(),
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        # Device frames are bounded at 1 MiB by the codec, which answers a larger one with an
        # error frame; the socket itself refuses (close 1009) anything past twice that, before
        # buffering it, instead of uvicorn's default of 16 MiB.
        "ws_max_size": 2 * MAX_FRAME_BYTES,
        # Device frames are small JSON objects: compressing each one cost the server more CPU
        # per message than storing it (a fifth of a busy drain), for a few hundred bytes saved.
        "ws_per_message_deflate": False,
        # How many processes serve this port (``serve --workers``); only reported here, never
        # uvicorn's own supervisor (see simgate.workers).
        "workers": 1,
        **options,
    }
    config = Config(
        app, timeout_request_head=settings.request_head_timeout_seconds, settings=settings, **values
    )
    # After Config: constructing it (re)configures uvicorn's loggers.
    install_secret_mask("uvicorn.access", "uvicorn.error")
    return config


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol uvicorn's "auto" would pick (httptools when installed), with the deadline."""
    if importlib.util.find_spec("httptools") is None:  # pragma: no cover - uvicorn[standard]
        return DeadlineH11Protocol
    return DeadlineHttpToolsProtocol


class HeadDeadline:
    """The timer of one connection, armed while it waits for a request head.

    When it fires, the connection is closed if it is still the same HTTP connection (not
    upgraded to a WebSocket) and still between requests.
    """

    def __init__(
        self,
        protocol: asyncio.Protocol,
        loop: asyncio.AbstractEventLoop,
        config: uvicorn.Config,
        between_requests: Callable[[], bool],
    ) -> None:
        self._protocol = protocol
        self._loop = loop
        self._seconds = config.timeout_request_head if isinstance(config, Config) else None
        self._between_requests = between_requests
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, transport: asyncio.Transport) -> None:
        self.cancel()
        if self._seconds is not None and not transport.is_closing():
            self._timer = self._loop.call_later(self._seconds, self._expire, transport)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, transport: asyncio.Transport) -> None:
        self._timer = None
        if (
            transport.get_protocol() is self._protocol
            and self._between_requests()
            and not transport.is_closing()
        ):
            transport.close()


class _HeadDeadlineMixin:
    """What both of uvicorn's HTTP protocols gain: a :class:`HeadDeadline`, armed when the
    connection opens and after each response, cancelled when it closes.

    Mixed in before the uvicorn protocol, so ``super()`` reaches that protocol's methods.
    """

    loop: asyncio.AbstractEventLoop
    config: uvicorn.Config
    transport: asyncio.Transport
    cycle: Any
    head_deadline: HeadDeadline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.head_deadline = HeadDeadline(
            cast(asyncio.Protocol, self), self.loop, self.config, self._between_requests
        )
        self.head_deadline.arm(cast(asyncio.Transport, transport))

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_deadline.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.head_deadline.arm(self.transport)

    def _between_requests(self) -> bool:
        # uvicorn types ``cycle`` as always set; it is None until the first request head.
        return self.cycle is None or bool(self.cycle.response_complete)


class DeadlineHttpToolsProtocol(_HeadDeadlineMixin, httptools_impl.HttpToolsProtocol):
    """uvicorn's httptools protocol with a :class:`HeadDeadline`."""


class DeadlineH11Protocol(_HeadDeadlineMixin, h11_impl.H11Protocol):
    """uvicorn's h11 protocol with a :class:`HeadDeadline`."""
