"""The HTTP long-poll fallback for devices whose network breaks WebSockets (issue 9).

Some proxies and captive networks refuse or mangle the WebSocket upgrade. Such a device speaks
the very same protocol over two plain HTTP endpoints instead (docs/device-protocol.md,
"Long-poll fallback"):

* ``POST /device/report`` carries the device's frames, ``{"session": <id>, "frames": [...]}``;
  the first report of a session has no ``session`` and starts with ``hello``: it opens the
  session and is answered ``{"session": <id>}``;
* ``GET /device/poll?session=<id>&wait=25&cursor=<n>`` answers every frame the server queued
  for the device (``{"frames": [...], "cursor": <n>}``), waiting up to ``wait`` seconds for the
  first one.

A :class:`PollChannel` gives :class:`~simgate.devices.session.DeviceSession` the three socket
methods it uses (``receive``, ``send_text``, ``close``) on top of two queues, so the same
session (handshake, window, leases, holder checks, acks, replacement) serves a polling device
exactly as it serves a WebSocket. A channel nobody polled for ``poll_idle_seconds`` is closed
as a vanished device (code 1006): its messages keep their leases, as after a dropped socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simgate.api.errors import error_body, error_response
from simgate.api.jsonresponse import JsonResponse
from simgate.context import Context
from simgate.devices.session import GONE, DeviceSession, HandshakeError
from simgate.dispatch.dispatcher import Dispatcher
from simgate.domain.errors import DeviceAuthError
from simgate.protocol import CLOSE_PROTOCOL_ERROR, MAX_FRAME_BYTES
from simgate.services import devices as device_service
from simgate.services.devices import Device

__all__ = [
    "DEVICE_POLL_PATH",
    "DEVICE_REPORT_PATH",
    "MAX_POLL_WAIT",
    "MAX_REPORT_BYTES",
    "MAX_REPORT_FRAMES",
    "PollChannel",
    "PollHub",
    "longpoll_routes",
]

log = structlog.get_logger(__name__)

DEVICE_POLL_PATH = "/device/poll"
DEVICE_REPORT_PATH = "/device/report"
#: Frames in one report, and the report's size: any single frame (1 MiB at most) fits.
MAX_REPORT_FRAMES = 100
MAX_REPORT_BYTES = 2 * MAX_FRAME_BYTES
#: Longest a poll waits for the first frame (seconds); proxies often cut requests at 30-60 s.
MAX_POLL_WAIT = 30.0
DEFAULT_POLL_WAIT = 25.0
#: Frames the device has not fetched yet; past that it is treated as gone.
MAX_OUTBOUND = 2000
#: Frames reported but not yet read by the session; past that a report is answered 429.
MAX_INBOUND = 1000
#: Sessions of one device still opening (before the dispatcher replaces the older ones).
MAX_OPENING_PER_DEVICE = 4
#: The close code of a device that stopped polling, as for a socket that dropped.
CLOSE_VANISHED = 1006
_SESSION_ID_BYTES = 16  # 128 random bits


class PollChannel:
    """A DeviceSession's "socket" for a polling device: frames in, frames out, a close.

    Outbound frames are numbered; a poll hands out the ones from its ``cursor`` on and forgets
    those below it, so a poll whose answer was lost on the way is simply made again with the
    same cursor. Only the latest poll waits: a newer one releases the older (empty answer).
    """

    def __init__(
        self,
        session_id: str,
        device_id: int,
        idle_seconds: float,
        on_expired: Callable[[PollChannel], None] | None = None,
    ) -> None:
        self.id = session_id
        self._on_expired = on_expired
        self.device_id = device_id
        self._idle_seconds = idle_seconds
        self._inbound: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbound: list[str] = []
        self._first_seq = 0  # sequence number of _outbound[0]
        self._handed_upto = 0  # next sequence number to hand out to a poll without a cursor
        self._wake = asyncio.Event()
        self._generation = 0
        self._polling = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self.closed: tuple[int, str] | None = None
        self.expired = False
        """True once nobody polled for ``idle_seconds``: the hub forgets the channel."""
        self.task: asyncio.Task[None] | None = None
        self._arm_idle_timer()

    # ------------------------------------------------------------ the session's socket

    async def receive(self) -> dict[str, Any]:
        if self.closed is not None and self._inbound.empty():
            return {"type": "websocket.disconnect", "code": self.closed[0]}
        return await self._inbound.get()

    async def send_text(self, text: str) -> None:
        if self.closed is not None:
            raise OSError("the device's poll session is closed")
        if len(self._outbound) >= MAX_OUTBOUND:
            self._end(CLOSE_VANISHED, "the device stopped fetching its frames")
            raise OSError("the device's poll session is full")
        self._outbound.append(text)
        self._wake.set()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The server closes the session: the device learns the code on its next poll."""
        self._end(code, reason)

    # ---------------------------------------------------------------- the device's side

    @property
    def inbound_room(self) -> int:
        return MAX_INBOUND - self._inbound.qsize()

    def feed(self, texts: list[str]) -> None:
        """Frames the device reported, in order, for the session to read."""
        for text in texts:
            self._inbound.put_nowait({"type": "websocket.receive", "text": text})

    def device_close(self, code: int) -> None:
        """The device ends the session itself (1000: its agent stops), as a socket's close."""
        self._end(code, "")

    async def poll(self, cursor: int | None, wait: float) -> tuple[list[str], int]:
        """Frames from ``cursor`` on (default: those not handed out yet) and the next cursor,
        waiting up to ``wait`` seconds for the first one."""
        self._polling += 1
        self._disarm_idle_timer()
        self._generation += 1
        generation = self._generation
        self._wake.set()  # release an older poll still waiting: this one replaces it
        self._wake = asyncio.Event()
        wake = self._wake
        try:
            next_seq = self._first_seq + len(self._outbound)
            start = self._handed_upto if cursor is None else cursor
            start = min(max(start, self._first_seq), next_seq)
            del self._outbound[: start - self._first_seq]
            self._first_seq = start
            if not self._outbound and self.closed is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await wake.wait()
            if generation != self._generation:
                return [], start  # a newer poll took over
            frames = list(self._outbound)
            next_seq = self._first_seq + len(frames)
            self._handed_upto = next_seq
            return frames, next_seq
        finally:
            self._polling -= 1
            if self._polling == 0:
                self._arm_idle_timer()

    @property
    def drained(self) -> bool:
        """No frame waits beyond what the last poll handed out."""
        return self._handed_upto >= self._first_seq + len(self._outbound)

    # --------------------------------------------------------------------- internals

    def _end(self, code: int, reason: str) -> None:
        if self.closed is not None:
            return
        self.closed = (code, reason)
        self._inbound.put_nowait({"type": "websocket.disconnect", "code": code})
        self._wake.set()

    def _arm_idle_timer(self) -> None:
        self._disarm_idle_timer()
        loop = asyncio.get_running_loop()
        self._idle_timer = loop.call_later(self._idle_seconds, self._on_idle)

    def _disarm_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _on_idle(self) -> None:
        self._idle_timer = None
        self.expired = True
        self._end(CLOSE_VANISHED, "no poll from the device")
        if self._on_expired is not None:
            self._on_expired(self)

    def discard(self) -> None:
        self._disarm_idle_timer()
        self.expired = True


class PollHub:
    """The open poll sessions, each bound to one device and run as a DeviceSession task."""

    def __init__(self, ctx: Context, dispatcher: Dispatcher) -> None:
        self._ctx = ctx
        self._dispatcher = dispatcher
        self._channels: dict[str, PollChannel] = {}

    def find(self, session_id: str, device: Device) -> PollChannel | None:
        """The device's session ``session_id``: another device's is as unknown as a wrong id."""
        channel = self._channels.get(session_id)
        if channel is None or channel.device_id != device.id:
            return None
        if channel.expired:
            self._forget(channel)
            return None
        return channel

    def open(self, device: Device) -> PollChannel | None:
        """A new session for ``device``, or None while it already has too many opening."""
        mine = [c for c in self._channels.values() if c.device_id == device.id]
        for channel in mine:
            if channel.closed is not None or channel.expired:
                self._forget(channel)  # replaced or ended: its device has moved on
        opening = [c for c in mine if c.closed is None and not c.expired]
        if len(opening) >= MAX_OPENING_PER_DEVICE:
            return None
        channel = PollChannel(
            secrets.token_hex(_SESSION_ID_BYTES),
            device.id,
            self._ctx.settings.poll_idle_seconds,
            on_expired=self._expired,
        )
        self._channels[channel.id] = channel
        session = DeviceSession(self._ctx, self._dispatcher, channel, device)  # type: ignore[arg-type]
        channel.task = asyncio.get_running_loop().create_task(self._run(channel, session))
        return channel

    async def _run(self, channel: PollChannel, session: DeviceSession) -> None:
        try:
            await session.run()
        except GONE:
            pass  # the device went away: an everyday event, logged by the session
        except HandshakeError as exc:
            session.log.info("device_handshake_failed", error=str(exc), transport="longpoll")
            await channel.close(CLOSE_PROTOCOL_ERROR, str(exc)[:120])
        except asyncio.CancelledError:
            raise
        except Exception:
            session.log.exception("device_session_failed", transport="longpoll")
            await channel.close(1011, "internal error")
        finally:
            await channel.close(1000, "")
            if channel.expired:
                self._forget(channel)

    def _forget(self, channel: PollChannel) -> None:
        channel.discard()
        if self._channels.get(channel.id) is channel:
            del self._channels[channel.id]

    def _expired(self, channel: PollChannel) -> None:
        """Nobody polled ``channel`` for the idle time: forget it once its session has ended
        (a session still running forgets it on its way out)."""
        if channel.task is None or channel.task.done():
            self._forget(channel)

    def sweep(self) -> None:
        """Forget the channels whose idle timer ran out and whose session has ended."""
        for channel in list(self._channels.values()):
            if channel.expired and (channel.task is None or channel.task.done()):
                self._forget(channel)

    async def close(self) -> None:
        """Server shutdown: end every session (its ``finally`` runs while the store is up)."""
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        for channel in list(self._channels.values()):
            channel.discard()
            await channel.close(1012, "server restarting")
        self._channels.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)


# ------------------------------------------------------------------------------ HTTP


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("token", "")


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> Response:
    return JsonResponse(error_body(request, code, message, extra), status_code=status)


_UNKNOWN_SESSION = ("unknown_session", "No such long-poll session for this device.")


def _unknown_session(request: Request) -> Response:
    return _error(request, 404, *_UNKNOWN_SESSION)


def _closed_body(channel: PollChannel) -> dict[str, Any]:
    code, reason = channel.closed or (1000, "")
    return {"code": code, "reason": reason}


class _BadReport(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REPORT_BYTES:
        raise _BadReport(413, "report_too_large", "A report is at most 2 MiB.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_REPORT_BYTES:
            raise _BadReport(413, "report_too_large", "A report is at most 2 MiB.")
    return bytes(body)


def _parse_report(body: bytes) -> tuple[str | None, list[str], int | None]:
    """The report's session id, its frames (as frame texts for the codec) and its close code."""
    try:
        report = json.loads(body)
    except (ValueError, RecursionError):
        raise _BadReport(400, "invalid_json", "The report is not valid JSON.") from None
    if not isinstance(report, dict):
        raise _BadReport(400, "invalid_report", "A report is a JSON object.")
    session = report.get("session")
    if session is not None and (not isinstance(session, str) or not 0 < len(session) <= 64):  # noqa: PLR2004
        raise _BadReport(400, "invalid_report", "report.session must be a session id.")
    frames = report.get("frames", [])
    if not isinstance(frames, list) or len(frames) > MAX_REPORT_FRAMES:
        raise _BadReport(
            400, "invalid_report", "report.frames must be a list of at most 100 frames."
        )
    close = report.get("close")
    if close is not None and (
        isinstance(close, bool) or not isinstance(close, int) or not 1000 <= close <= 4999  # noqa: PLR2004
    ):
        raise _BadReport(400, "invalid_report", "report.close must be a close code.")
    try:
        # Each frame goes through the codec as the text a socket would have carried; the codec
        # refuses a bad one with an error frame, exactly as over a WebSocket.
        texts = [json.dumps(frame, ensure_ascii=False, separators=(",", ":")) for frame in frames]
    except (ValueError, RecursionError):
        raise _BadReport(400, "invalid_json", "The report is not valid JSON.") from None
    return session, texts, close


def _query_number(request: Request, name: str, default: float | None) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _BadReport(400, "invalid_parameter", f"{name} must be a number.") from None
    if not math.isfinite(value) or value < 0 or value > 2**53:
        raise _BadReport(400, "invalid_parameter", f"{name} must be a non-negative number.")
    return value


def longpoll_routes(ctx: Context, dispatcher: Dispatcher) -> tuple[PollHub, list[Route]]:
    """The hub of poll sessions and its two routes, ``/device/report`` and ``/device/poll``."""
    hub = PollHub(ctx, dispatcher)

    async def device(request: Request) -> Device:
        return await device_service.authenticate(ctx, _token(request))

    async def report(request: Request) -> Response:
        hub.sweep()
        try:
            channel = await _feed(request, await device(request))
        except DeviceAuthError as exc:
            return error_response(request, exc)
        except _BadReport as exc:
            headers = {"Retry-After": "1"} if exc.status == 429 else None  # noqa: PLR2004
            return JsonResponse(
                error_body(request, exc.code, exc.message, exc.extra),
                status_code=exc.status,
                headers=headers,
            )
        return JsonResponse({"session": channel.id})

    async def _feed(request: Request, me: Device) -> PollChannel:
        session_id, texts, close = _parse_report(await _read_body(request))
        if session_id is None:
            if not texts:
                raise _BadReport(400, "hello_expected", "A new session's first report holds hello.")
            opened = hub.open(me)
            if opened is None:
                raise _BadReport(
                    429, "too_many_sessions", "This device is opening too many sessions."
                )
            channel = opened
        else:
            found = hub.find(session_id, me)
            if found is None:
                raise _BadReport(404, *_UNKNOWN_SESSION)
            channel = found
            if channel.closed is not None:
                raise _BadReport(
                    410,
                    "session_closed",
                    "This long-poll session is closed; open a new one with hello.",
                    close=_closed_body(channel),
                )
            if len(texts) > channel.inbound_room:
                raise _BadReport(429, "busy", "Too many frames waiting; report them again shortly.")
        channel.feed(texts)
        if close is not None:
            channel.device_close(close)
        return channel

    async def poll(request: Request) -> Response:
        try:
            me = await device(request)
        except DeviceAuthError as exc:
            return error_response(request, exc)
        try:
            wait = _query_number(request, "wait", DEFAULT_POLL_WAIT)
            cursor = _query_number(request, "cursor", None)
        except _BadReport as exc:
            return _error(request, exc.status, exc.code, exc.message)
        session_id = request.query_params.get("session", "")
        channel = hub.find(session_id, me) if session_id else None
        if channel is None:
            return _unknown_session(request)
        frames, next_cursor = await channel.poll(
            None if cursor is None else int(cursor), min(wait or 0.0, MAX_POLL_WAIT)
        )
        # The frames are the codec's JSON texts already: joined, not parsed and encoded again.
        body = '{"frames":[' + ",".join(frames) + f'],"cursor":{next_cursor}'
        if channel.closed is not None and channel.drained:
            body += ',"close":' + json.dumps(_closed_body(channel))
        return Response(body + "}", media_type="application/json")

    routes = [
        Route(DEVICE_REPORT_PATH, report, methods=["POST"]),
        Route(DEVICE_POLL_PATH, poll, methods=["GET"]),
    ]
    return hub, routes
