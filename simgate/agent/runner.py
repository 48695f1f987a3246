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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from simgate import __version__
from simgate.agent.drivers.base import (
    Driver,
    DriverEvent,
    InboundSms,
    OutgoingSms,
    SendOutcome,
    StatusUpdate,
)
from simgate.agent.outbox import AckedFrame, Outbox
from simgate.protocol import (
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_INVALID_TOKEN,
    CLOSE_INVALID_TOKEN_REASON,
    AcceptedFrame,
    AckFrame,
    ErrorFrame,
    Frame,
    HelloFrame,
    MobileSentFrame,
    PingFrame,
    PongFrame,
    ProtocolError,
    ReceivedFrame,
    SendFrame,
    StatusFrame,
    UnknownFrame,
    WelcomeFrame,
    decode_frame,
    device_ws_url,
    encode_frame,
    format_phone_time,
    new_frame_id,
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
_MAX_FRAME_BYTES = 1 << 20
_DRIVER_RESTART_SECONDS = 5.0
_ACK_WAIT_ON_STOP = 1.0


class AgentError(Exception):
    """An error that ends the agent's run (as opposed to a dropped connection, which is retried)."""


class AgentAuthError(AgentError):
    """The server refused the device token. Retrying cannot help, so the run ends."""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Backoff between connection attempts.

    The delay starts at ``initial`` and doubles up to ``maximum``; each wait is drawn between
    half the delay and the full delay, so a fleet of phones that lost the server together does
    not hammer it in lockstep when it comes back. A connection that lasted more than
    ``reset_after`` seconds was a good one: the next drop starts again from ``initial``.
    """

    initial: float = 0.2
    maximum: float = 30.0
    reset_after: float = 10.0


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


@dataclass(slots=True)
class AgentConfig:
    """Everything one agent run needs; built by ``simgate agent`` or by a test.

    ``sims`` and ``capabilities`` default to the driver's. ``on_connected`` is called with the
    device SID after every ``welcome`` (the CLI prints it).
    """

    server: str
    token: str = field(repr=False)
    state_dir: Path
    driver: Driver
    sims: Sequence[int] | None = None
    capabilities: Sequence[str] | None = None
    version: str = __version__
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    open_timeout: float = 20.0
    welcome_timeout: float = 20.0
    keepalive_interval: float = 20.0
    stop_grace: float = 5.0
    on_connected: Callable[[str], None] | None = None


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


class _Connection:
    """One live, welcomed WebSocket: what has been sent on it and when the server last spoke."""

    def __init__(self, ws: ClientConnection, heartbeat: int) -> None:
        self.ws = ws
        self.heartbeat = heartbeat
        self.sent_upto = 0  # highest outbox seq written to this connection
        self.last_received = time.monotonic()

    async def send(self, frame: Frame) -> None:
        await self.ws.send(encode_frame(frame))


def _clamp(value: int | None, top: int) -> int | None:
    return None if value is None else max(0, min(top, value))


class AgentRunner:
    """Runs one device agent until :meth:`stop`, cancellation, or a refused token.

    ``run()`` may be called once per instance; a restart is a new runner on the same state
    directory, which then resends whatever the previous run left unacknowledged.
    """

    def __init__(self, config: AgentConfig) -> None:
        self._config = config
        self._driver = config.driver
        self._url = device_ws_url(config.server)
        self.outbox = Outbox(config.state_dir)
        self._sims = tuple(config.sims if config.sims is not None else self._driver.sims)
        self._capabilities = tuple(
            config.capabilities if config.capabilities is not None else self._driver.capabilities
        )
        self._ws_logger = logging.getLogger("simgate.agent.websockets")
        self._conn: _Connection | None = None
        self._sid: str | None = None
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._force_stop = asyncio.Event()
        self._accepting = True
        self._ran = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._status = StatusUpdate()
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
        redact = RedactSecret(self._config.token)
        self._ws_logger.addFilter(redact)
        try:
            self.outbox.open()
            try:
                await self._driver.start()
                try:
                    await self._serve()
                finally:
                    await self._driver.close()
            finally:
                self.outbox.close()
        finally:
            self._ws_logger.removeFilter(redact)

    # ------------------------------------------------------------------------ run / stop

    async def _serve(self) -> None:
        flusher = self._background(self.outbox.run_flusher(), "outbox-flusher")
        events = self._background(self._pump_driver_events(), "driver-events")
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
            self._accepting = False
            tasks = [stop_requested, connection, events, *self._inflight]
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
        self._accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.stop_grace
        if self._inflight:
            log.info("stopping: waiting for %d message(s) being sent", len(self._inflight))
            force = asyncio.create_task(self._force_stop.wait())
            try:
                while self._inflight and not self._force_stop.is_set():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    await asyncio.wait(
                        {*self._inflight, force},
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
            try:
                ws = await connect(
                    self._url,
                    additional_headers={"Authorization": f"Bearer {self._config.token}"},
                    user_agent_header=f"simgate-agent/{self._config.version}",
                    open_timeout=self._config.open_timeout,
                    ping_interval=self._config.keepalive_interval,
                    ping_timeout=self._config.keepalive_interval,
                    close_timeout=5.0,
                    max_size=_MAX_FRAME_BYTES,
                    logger=self._ws_logger,
                )
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (_HTTP_UNAUTHORIZED, _HTTP_FORBIDDEN):
                    raise AgentAuthError(
                        f"the server refused the device token (HTTP {status})"
                    ) from exc
                log.warning("the server refused the connection: HTTP %d", status)
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("cannot connect to %s: %s", self._url, exc)
            else:
                opened_at = time.monotonic()
                await self._run_connection(ws)
            if opened_at is not None and time.monotonic() - opened_at > (
                self._config.reconnect.reset_after
            ):
                backoff.reset()
            delay = backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _run_connection(self, ws: ClientConnection) -> None:
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
        received = ws.protocol.close_rcvd
        if received is not None and received.code == CLOSE_INVALID_TOKEN:
            reason = received.reason or CLOSE_INVALID_TOKEN_REASON
            raise AgentAuthError(
                f"the server refused the device token: {reason} (close code {CLOSE_INVALID_TOKEN})"
            )
        if received is not None:
            log.info("disconnected: code %d %s", received.code, received.reason)
        else:
            log.info("disconnected")

    async def _session(self, ws: ClientConnection) -> None:
        status = await self._read_status()
        hello = HelloFrame(
            version=f"simgate-agent/{self._config.version}",
            driver=self._driver.name,
            sims=self._sims,
            capabilities=self._capabilities,
            battery=status.battery,
            signal=status.signal,
        )
        await ws.send(encode_frame(hello))
        welcome = await self._await_welcome(ws)
        conn = _Connection(ws, welcome.heartbeat)
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
        tasks = [
            asyncio.create_task(self._read_loop(conn), name="agent-reader"),
            asyncio.create_task(self._write_loop(conn), name="agent-writer"),
            asyncio.create_task(self._watchdog(conn), name="agent-watchdog"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # re-raise what ended the connection

    async def _read_status(self) -> StatusUpdate:
        try:
            async with asyncio.timeout(5.0):
                status = await self._driver.read_status()
        except Exception:
            log.warning("the %s driver could not read battery/signal", self._driver.name)
            status = self._status
        self._status = StatusUpdate(
            battery=_clamp(status.battery, 100), signal=_clamp(status.signal, 4)
        )
        return self._status

    async def _await_welcome(self, ws: ClientConnection) -> WelcomeFrame:
        async with asyncio.timeout(self._config.welcome_timeout):
            while True:
                message = await ws.recv()
                try:
                    frame = decode_frame(message)
                except ProtocolError as exc:
                    log.warning("ignoring a malformed frame before welcome: %s", exc)
                    continue
                if isinstance(frame, WelcomeFrame):
                    return frame
                if isinstance(frame, PingFrame):
                    await ws.send(encode_frame(PongFrame()))
                elif isinstance(frame, ErrorFrame):
                    log.warning("server error before welcome: %s: %s", frame.code, frame.message)
                else:
                    log.debug("ignoring %s before welcome", type(frame).__name__)

    async def _read_loop(self, conn: _Connection) -> None:
        async for message in conn.ws:
            conn.last_received = time.monotonic()
            try:
                frame = decode_frame(message)
            except ProtocolError as exc:
                log.warning("ignoring a malformed frame from the server: %s", exc)
                continue
            await self._dispatch(conn, frame)

    async def _dispatch(self, conn: _Connection, frame: Frame | UnknownFrame) -> None:
        if isinstance(frame, SendFrame):
            await self._on_send(conn, frame)
        elif isinstance(frame, AckFrame):
            if self.outbox.acknowledge(frame.id) is None:
                log.debug("ack for %s, which is not pending", frame.id)
        elif isinstance(frame, PingFrame):
            await conn.send(PongFrame())
        elif isinstance(frame, ErrorFrame):
            log.warning("the server reported an error: %s: %s", frame.code, frame.message)
        elif isinstance(frame, UnknownFrame):
            log.debug("ignoring a frame of unknown type %r", frame.type)
        elif not isinstance(frame, PongFrame):
            log.debug("ignoring an unexpected %s frame", frame.TYPE)

    async def _write_loop(self, conn: _Connection) -> None:
        """Send durable outbox frames in order; on a new connection, all of them again."""
        flushed = self.outbox.flushed
        while True:
            flushed.clear()
            batch = self.outbox.pending_after(conn.sent_upto)
            if not batch:
                await flushed.wait()
                continue
            for item in batch:
                if self.outbox.pending(item.frame.id) is not None:  # not acked meanwhile
                    await conn.send(item.frame)
                conn.sent_upto = item.seq

    async def _watchdog(self, conn: _Connection) -> None:
        """Ping a quiet server; give up on a silent one (websockets' keepalive may not notice a
        server whose event loop is stuck while its TCP stack still answers)."""
        period = conn.heartbeat
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - conn.last_received
            if idle > 3 * period + 10:
                log.warning("no frame from the server for %.0f s; reconnecting", idle)
                await conn.ws.close(CLOSE_HEARTBEAT_TIMEOUT, "no frame from the server")
                return
            if idle >= 1.5 * period:
                await conn.send(PingFrame())

    # ---------------------------------------------------------------------- messages out

    async def _on_send(self, conn: _Connection, request: SendFrame) -> None:
        guid = request.guid
        if not self._accepting:
            # Not accepted: the server will dispatch it again after this agent reconnects.
            log.info("not taking %s: the agent is stopping", guid)
            return
        await conn.send(AcceptedFrame(guid=guid))
        record = self.outbox.record(guid)
        if record is None or record.may_transmit_again:
            self.outbox.begin(guid)  # in memory now; on disk before the radio sees it
            task = asyncio.create_task(self._transmit(request), name=f"transmit-{guid}")
            self._inflight.add(task)
            task.add_done_callback(self._transmit_done)
            return
        if record.state == "sending":
            log.debug("%s is already being sent", guid)
            return
        log.info("%s was already %s: reporting it again, not sending it", guid, record.state)
        if record.frame_id is None:
            self.outbox.report_again(guid)  # the flusher writes it, the writer then sends it
            return
        item = self.outbox.pending(record.frame_id)
        if item is not None and item.seq <= conn.sent_upto:
            await conn.send(item.frame)  # otherwise the writer is about to send it anyway

    def _transmit_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._log_crash(task)

    def _refusal(self, request: SendFrame) -> str | None:
        """Why this device cannot even try ``request`` (None: it can)."""
        capabilities = set(self._capabilities)
        if request.channel == "sms" and "sms" not in capabilities:
            return "this device cannot send SMS"
        if request.channel == "whatsapp" and "whatsapp" not in capabilities:
            return "this device cannot send WhatsApp messages"
        if request.channel == "both" and not capabilities & {"sms", "whatsapp"}:
            return "this device can send neither SMS nor WhatsApp messages"
        if request.sim is not None and self._sims and request.sim not in self._sims:
            available = ", ".join(str(sim) for sim in self._sims)
            return f"SIM {request.sim} is not available on this device (it has {available})"
        return None

    async def _transmit(self, request: SendFrame) -> None:
        refusal = self._refusal(request)
        outcome: SendOutcome
        if refusal is not None:
            log.warning("cannot send %s: %s", request.guid, refusal)
            outcome = SendOutcome.failure(refusal, operator=False)
        else:
            try:
                await self.outbox.commit()  # the GUID is on disk as "sending" before the radio
            except asyncio.CancelledError:
                self.outbox.forget(request.guid)  # stopped before the radio saw it
                raise
            message = OutgoingSms(
                guid=request.guid,
                to=request.to,
                text=request.text,
                sim=request.sim,
                channel=request.channel,
                parts=request.parts,
            )
            try:
                outcome = await self._driver.send(message)
            except Exception as exc:
                log.exception("the %s driver failed to send %s", self._driver.name, request.guid)
                outcome = SendOutcome.failure(
                    f"{self._driver.name} driver error: {exc}", operator=False
                )
        self.outbox.finish(
            request.guid,
            ok=outcome.ok,
            sim=outcome.sim if outcome.sim is not None else request.sim,
            at=outcome.at_ms,
            error=outcome.error,
            operator=outcome.operator,
        )
        await self.outbox.commit()
        if outcome.ok:
            log.info("%s sent", request.guid)
        else:
            log.info("%s failed: %s", request.guid, outcome.error)

    # ----------------------------------------------------------------------- events in

    async def _pump_driver_events(self) -> None:
        while True:
            events = self._driver.events()
            try:
                async for event in events:
                    await self._on_driver_event(event)
                log.info("the %s driver has no more events", self._driver.name)
                return
            except Exception:
                log.exception(
                    "the %s driver's event stream failed; restarting it", self._driver.name
                )
                await asyncio.sleep(_DRIVER_RESTART_SECONDS)
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()

    async def _on_driver_event(self, event: DriverEvent) -> None:
        if isinstance(event, StatusUpdate):
            self._status = StatusUpdate(
                battery=_clamp(event.battery, 100), signal=_clamp(event.signal, 4)
            )
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(ConnectionClosed):
                    await conn.send(
                        StatusFrame(battery=self._status.battery, signal=self._status.signal)
                    )
            return
        frame: AckedFrame
        if isinstance(event, InboundSms):
            frame = ReceivedFrame(
                id=new_frame_id(),
                number=event.number,
                text=event.text,
                at=event.at_ms,
                sim=event.sim,
            )
        else:
            frame = MobileSentFrame(
                id=new_frame_id(),
                number=event.number,
                text=event.text,
                at=event.at_ms,
                formatted=format_phone_time(event.at_ms),
            )
        self.outbox.append(frame)
        # Durable before the driver is asked for the next event (see Driver.events).
        await self.outbox.commit()
