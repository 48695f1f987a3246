"""The agent's main loop: keep one WebSocket to the server alive and move frames both ways.

Responsibilities, each chosen so that a driver never has to think about the network:

* connect to ``<server>/device/ws`` with the device token, say ``hello``, wait for ``welcome``;
  reconnect with exponential backoff and jitter after any drop, except a refused token (close
  code 4401), which no amount of retrying fixes, so it ends the run with :class:`AgentAuthError`;
* answer ``send`` with ``accepted`` at once, then hand the message to the driver in its own task
  (a slow send never holds up the others) and report ``sent``/``failed`` as each one finishes;
* de-duplicate by GUID: the server resends unconfirmed messages after every reconnect, and a GUID
  already transmitted is never handed to the radio again; its outcome is reported again instead;
* keep every state-changing frame in the durable :class:`~simgate.agent.outbox.Outbox` until the
  server acks it, resending in the original order after each reconnect and each restart.

Where a proxy refuses the WebSocket upgrade, the same conversation runs over HTTP long-poll
(:mod:`~simgate.agent.longpoll`, ``transport="auto"`` or ``"longpoll"``).

The runner owns the run's lifecycle (start, reconnect, stop) and wires up the parts that do the
work: :mod:`~simgate.agent.connection` (one live WebSocket's reader, writer and watchdog),
:mod:`~simgate.agent.transmitter` (the send path), :mod:`~simgate.agent.events` (what the driver
reports unasked) and :mod:`~simgate.agent.outbox` (the durable state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    WebSocketException,
)
from websockets.frames import Close

from simgate.agent.config import AgentConfig, ReconnectPolicy
from simgate.agent.connection import Connection, Transport, await_welcome
from simgate.agent.events import EventPump
from simgate.agent.longpoll import LongPollTransport
from simgate.agent.outbox import Outbox, PendingFrame
from simgate.agent.transmitter import Transmitter
from simgate.protocol import (
    CLOSE_INVALID_TOKEN,
    CLOSE_INVALID_TOKEN_REASON,
    MAX_FRAME_BYTES,
    HelloFrame,
    device_ws_url,
    encode_frame,
)

__all__ = [
    "AgentAuthError",
    "AgentConfig",
    "AgentError",
    "AgentRunner",
    "ReconnectPolicy",
    "RedactSecret",
]

log = logging.getLogger(__name__)

_HTTP_UNAUTHORIZED = 401
_HTTP_FORBIDDEN = 403
_ACK_WAIT_ON_STOP = 1.0


class AgentError(Exception):
    """An error that ends the agent's run (as opposed to a dropped connection, which is retried)."""


class AgentAuthError(AgentError):
    """The server refused the device token. Retrying cannot help, so the run ends."""


class _Backoff:
    def __init__(self, policy: ReconnectPolicy, rng: random.Random | None = None) -> None:
        self._policy = policy
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._delay = policy.initial

    def reset(self) -> None:
        self._delay = self._policy.initial

    def next_delay(self) -> float:
        delay = self._delay
        self._delay = min(self._policy.maximum, self._delay * 2)
        return self._rng.uniform(delay / 2, delay)


class RedactSecret(logging.Filter):
    """Replaces a secret with ``<redacted>`` in log records.

    The runner puts one on the logger it gives websockets, whose debug log prints the handshake
    headers (the token among them); the CLI puts one on its log handler as well.
    """

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secret:
            message = record.getMessage()
            if self._secret in message:
                record.msg = message.replace(self._secret, "<redacted>")
                record.args = None
        return True


class AgentRunner:
    """Runs one device agent until :meth:`stop`, cancellation, or a refused token.

    ``run()`` may be called once per instance; a restart is a new runner on the same state
    directory, which then resends whatever the previous run left unacknowledged.
    """

    def __init__(self, config: AgentConfig) -> None:
        self._config = config
        self._driver = config.driver
        self._url = device_ws_url(config.server)
        self.outbox = Outbox(
            config.state_dir, keep_done=config.keep_done, on_acknowledged=self._acknowledged
        )
        self._sims = tuple(config.sims if config.sims is not None else self._driver.sims)
        self._capabilities = tuple(
            config.capabilities if config.capabilities is not None else self._driver.capabilities
        )
        self._transmitter = Transmitter(
            self._driver, self.outbox, sims=self._sims, capabilities=self._capabilities
        )
        self._events = EventPump(self._driver, self.outbox, lambda: self._conn)
        self._ws_logger = logging.getLogger("simgate.agent.websockets")
        self._conn: Connection | None = None
        self._sid: str | None = None
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._force_stop = asyncio.Event()
        self._ran = False
        self.connections = 0
        """How many times the server has welcomed this runner (1 + reconnections)."""

    # ----------------------------------------------------------------------- public surface

    @property
    def sid(self) -> str | None:
        """The device SID from the last ``welcome`` (None before the first one)."""
        return self._sid

    @property
    def connected(self) -> bool:
        """True while a welcomed connection is open."""
        return self._connected.is_set()

    async def wait_connected(self) -> str:
        """Wait for the next (or current) welcomed connection; returns the device SID."""
        await self._connected.wait()
        assert self._sid is not None  # noqa: S101 - set before the event
        return self._sid

    def stop(self) -> None:
        """Ask :meth:`run` to return: stop taking messages, let sends in progress finish (up to
        ``stop_grace`` seconds), report them, close. A second call skips the wait.

        Safe to call from a signal handler installed with ``loop.add_signal_handler``.
        """
        if self._stop.is_set():
            self._force_stop.set()
        self._stop.set()

    async def run(self) -> None:
        """Connect and serve until stopped. Raises :class:`AgentAuthError` on a refused token,
        :class:`~simgate.agent.outbox.AgentStateError` if the state directory is unusable."""
        if self._ran:
            raise RuntimeError("an AgentRunner runs once; create a new one to run again")
        self._ran = True
        redact = RedactSecret(self._config.token if self._config.redact_token else "")
        if self._config.redact_token:
            self._ws_logger.addFilter(redact)
        try:
            self.outbox.open()
            try:
                self._driver.use_state(self.outbox.driver_state(self._driver.name))
                await self._driver.start()
                try:
                    await self._serve()
                finally:
                    await self._driver.close()
            finally:
                self.outbox.close()
        finally:
            self._ws_logger.removeFilter(redact)

    def _acknowledged(self, item: PendingFrame) -> None:
        """An acked frame whose event carried a driver ref: the driver gets it back."""
        self._events.acknowledged(item)

    # ------------------------------------------------------------------------ run / stop

    async def _serve(self) -> None:
        flusher = self._background(self.outbox.run_flusher(), "outbox-flusher")
        events = self._background(self._events.run(), "driver-events")
        connection = asyncio.create_task(self._connection_loop(), name="agent-connection")
        stop_requested = asyncio.create_task(self._stop.wait(), name="agent-stop")
        try:
            done, _ = await asyncio.wait(
                {connection, stop_requested}, return_when=asyncio.FIRST_COMPLETED
            )
            if connection in done:
                connection.result()  # AgentAuthError, or a bug: either way the run ends
            else:
                await self._drain()
        finally:
            self._transmitter.accepting = False
            tasks = [stop_requested, connection, events, *self._transmitter.inflight]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Last: outcomes recorded by cancelled sends must still be written.
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            self._conn = None
            self._connected.clear()

    def _background(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._log_crash)
        return task

    @staticmethod
    def _log_crash(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("agent task %s crashed", task.get_name(), exc_info=task.exception())

    async def _drain(self) -> None:
        """Graceful stop: finish sends in progress and give the server a moment to ack them."""
        self._transmitter.accepting = False
        inflight = self._transmitter.inflight
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.stop_grace
        if inflight:
            log.info("stopping: waiting for %d message(s) being sent", len(inflight))
            force = asyncio.create_task(self._force_stop.wait())
            try:
                while inflight and not self._force_stop.is_set():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    await asyncio.wait(
                        {*inflight, force},
                        timeout=remaining,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
            finally:
                force.cancel()
                await asyncio.gather(force, return_exceptions=True)
        await self.outbox.commit()
        ack_deadline = min(deadline, loop.time() + _ACK_WAIT_ON_STOP)
        if self.outbox.pending_count and self.connected and not self._force_stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(ack_deadline):
                    await self.outbox.emptied.wait()

    # ------------------------------------------------------------------------ connection

    async def _connection_loop(self) -> None:
        backoff = _Backoff(self._config.reconnect)
        while True:
            opened_at: float | None = None
            transport: Transport | None = None
            if self._config.transport == "longpoll":
                transport = self._long_poll()
            else:
                transport = await self._websocket()
            if transport is not None:
                opened_at = time.monotonic()
                await self._run_connection(transport)
            if opened_at is not None and time.monotonic() - opened_at > (
                self._config.reconnect.reset_after
            ):
                backoff.reset()
            delay = backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _websocket(self) -> Transport | None:
        """A new WebSocket; with ``auto``, a long-poll session when a proxy refuses the upgrade
        (an HTTP status other than 401/403, or an answer that is no WebSocket handshake)."""
        fallback = self._config.transport == "auto"
        try:
            return await connect(
                self._url,
                additional_headers={"Authorization": f"Bearer {self._config.token}"},
                user_agent_header=f"simgate-agent/{self._config.version}",
                open_timeout=self._config.open_timeout,
                ping_interval=self._config.keepalive_interval,
                ping_timeout=self._config.keepalive_interval,
                close_timeout=5.0,
                max_size=MAX_FRAME_BYTES,
                logger=self._ws_logger,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (_HTTP_UNAUTHORIZED, _HTTP_FORBIDDEN):
                raise AgentAuthError(
                    f"the server refused the device token (HTTP {status})"
                ) from exc
            log.warning("the server refused the connection: HTTP %d", status)
        except InvalidHandshake as exc:
            log.warning("the WebSocket handshake with %s failed: %s", self._url, exc)
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.warning("cannot connect to %s: %s", self._url, exc)
            return None
        if not fallback:
            return None
        log.info("falling back to HTTP long-poll")
        return self._long_poll()

    def _long_poll(self) -> LongPollTransport:
        return LongPollTransport(
            self._config.server,
            self._config.token,
            user_agent=f"simgate-agent/{self._config.version}",
            request_timeout=self._config.open_timeout,
        )

    async def _run_connection(self, ws: Transport) -> None:
        try:
            await self._session(ws)
        except ConnectionClosed:
            pass
        except TimeoutError:
            log.warning("the server did not answer hello with welcome in time")
        except Exception:
            log.exception("the connection failed")
        finally:
            self._conn = None
            self._connected.clear()
            await ws.close()
        received = ws.close_rcvd if isinstance(ws, LongPollTransport) else _ws_close(ws)
        if received is not None and received.code == CLOSE_INVALID_TOKEN:
            reason = received.reason or CLOSE_INVALID_TOKEN_REASON
            raise AgentAuthError(
                f"the server refused the device token: {reason} (close code {CLOSE_INVALID_TOKEN})"
            )
        if received is not None:
            log.info("disconnected: code %d %s", received.code, received.reason)
        else:
            log.info("disconnected")

    async def _session(self, ws: Transport) -> None:
        status = await self._events.read_status()
        limit = self._driver.send_limit
        hello = HelloFrame(
            version=f"simgate-agent/{self._config.version}",
            driver=self._driver.name,
            sims=self._sims,
            capabilities=self._capabilities,
            battery=status.battery,
            signal=status.signal,
            charging=status.charging,
            rate_count=limit[0] if limit is not None else None,
            rate_seconds=limit[1] if limit is not None else None,
        )
        await ws.send(encode_frame(hello))
        async with asyncio.timeout(self._config.welcome_timeout):
            welcome = await await_welcome(ws)
        conn = Connection(
            ws, welcome.heartbeat, outbox=self.outbox, on_send=self._transmitter.on_send
        )
        self._conn = conn
        self._sid = welcome.sid
        self.connections += 1
        self._connected.set()
        # Debug only: the CLI prints its own "connected as" line through on_connected.
        log.debug("welcomed as %s (%s)", welcome.sid, welcome.label or "no label")
        if self._config.on_connected is not None:
            self._config.on_connected(welcome.sid)
        try:
            await self._driver.on_connected(welcome.sid)
        except Exception:
            log.exception("the %s driver failed in on_connected", self._driver.name)
        await conn.serve()


def _ws_close(ws: Transport) -> Close | None:
    """The close frame the server sent on a WebSocket, if any."""
    return ws.protocol.close_rcvd if isinstance(ws, ClientConnection) else None
