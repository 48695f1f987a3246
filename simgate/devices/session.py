"""One connected device: reads its frames, pushes it messages, keeps it alive.

The protocol is documented in docs/device-protocol.md. Every state-changing frame from the
device is acknowledged only after the service call that stores it has committed, so a frame
lost to a dropped connection is resent by the device and stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from sqlalchemy.engine import RowMapping
from starlette.websockets import WebSocket, WebSocketDisconnect

from simgate import bus
from simgate.context import Context
from simgate.dispatch.dispatcher import Attached, Dispatcher
from simgate.protocol import ACKED_TYPES, CLOSE_INVALID_TOKEN, PROTOCOL_VERSION
from simgate.services import devices as device_service
from simgate.services import inbox as inbox_service
from simgate.services import mobile_sent as mobile_sent_service
from simgate.services.devices import Device, Hello
from simgate.store import messages as message_store

log = structlog.get_logger(__name__)

HELLO_TIMEOUT = 15.0
#: Any frame proves the device alive; last_seen is written at most this often (ms).
LAST_SEEN_WRITE_MS = 10_000
#: Longest ``mobile_sent.formatted`` stored: the bound ``simgate.protocol`` puts on short text,
#: so that no frame a conforming agent sends is refused (and then resent forever).
MAX_FORMATTED_CHARS = 256


class ProtocolError(Exception):
    """A frame that does not follow the protocol; answered with an ``error`` frame."""


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(frame: dict[str, Any], key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"'{key}' must be a non-empty string")
    return value


class DeviceSession:
    #: Closes the socket once the device is deleted (see ``_on_device_removed``).
    _closing: asyncio.Task[None] | None = None

    def __init__(
        self, ctx: Context, dispatcher: Dispatcher, websocket: WebSocket, device: Device
    ) -> None:
        self._ctx = ctx
        self._dispatcher = dispatcher
        self._ws = websocket
        self.device = device
        self._send_lock = asyncio.Lock()
        self._last_seen_ms = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "sent": self._on_sent,
            "failed": self._on_failed,
            "received": self._on_received,
            "mobile_sent": self._on_mobile_sent,
            "ping": self._on_ping,
            "pong": self._on_pong,
            "status": self._on_status,
        }
        self.log = log.bind(device_sid=device.sid, account_id=device.account_id)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send_text(orjson.dumps(frame).decode())

    async def deliver(self, rows: list[RowMapping]) -> None:
        """Push claimed messages; a send that fails leaves them leased for the next connection."""
        try:
            for row in rows:
                await self.send_frame(
                    {
                        "type": "send",
                        "guid": row["guid"],
                        "to": row["recipient"],
                        "text": row["text"],
                        "sim": row["port"],
                        "channel": row["channel"],
                        "parts": row["parts"],
                    }
                )
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.log.info("deliver_interrupted", count=len(rows))

    async def run(self) -> None:
        hello = await self._receive_hello()
        await device_service.record_hello(self._ctx, self.device, hello)
        await self.send_frame(
            {
                "type": "welcome",
                "protocol": PROTOCOL_VERSION,
                "sid": self.device.sid,
                "label": self.device.label,
                "heartbeat": self._ctx.settings.heartbeat_seconds,
            }
        )
        self.log.info("device_connected", version=hello.version, driver=hello.driver)
        channels = {"sms"}
        if "whatsapp" in hello.capabilities:
            channels |= {"whatsapp", "both"}
        await self._resend_held()
        self._dispatcher.attach(
            Attached(
                device_id=self.device.id,
                account_id=self.device.account_id,
                sid=self.device.sid,
                channels=frozenset(channels),
                deliver=self.deliver,
            )
        )
        unsubscribe = self._ctx.bus.subscribe(bus.DEVICE_REMOVED, self._on_device_removed)
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            await self._read_loop()
        finally:
            unsubscribe()
            self._dispatcher.detach(self.device.account_id, self.device.id)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.log.info("device_disconnected")

    async def _receive_hello(self) -> Hello:
        frame = await asyncio.wait_for(self._receive(), timeout=HELLO_TIMEOUT)
        if frame is None or frame.get("type") != "hello":
            raise ProtocolError("the first frame must be 'hello'")
        sims = frame.get("sims")
        capabilities = frame.get("capabilities")
        version = frame.get("version")
        driver = frame.get("driver")
        return Hello(
            version=version if isinstance(version, str) else None,
            driver=driver if isinstance(driver, str) else None,
            sims=[s for s in sims if isinstance(s, int)] if isinstance(sims, list) else [],
            capabilities=(
                [c for c in capabilities if isinstance(c, str)]
                if isinstance(capabilities, list)
                else ["sms"]
            ),
            battery=_int_or_none(frame.get("battery")),
            signal=_int_or_none(frame.get("signal")),
        )

    async def _resend_held(self) -> None:
        """Messages this device held when it last dropped: it de-duplicates by GUID."""
        now = self._ctx.clock()
        async with self._ctx.db.begin() as conn:
            rows = await message_store.renew_dispatched(
                conn,
                self.device.id,
                now_ms=now,
                lease_until_ms=now + self._ctx.settings.lease_seconds * 1000,
            )
        if rows:
            await self.deliver(rows)

    async def _receive(self) -> dict[str, Any] | None:
        """The next frame as a dict; None for a frame that is not a JSON object."""
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return frame if isinstance(frame, dict) else None

    async def _read_loop(self) -> None:
        while True:
            frame = await self._receive()
            await self._seen()
            if frame is None:
                await self._error("malformed_frame", "A frame must be a JSON object.")
                continue
            handler = self._handlers.get(str(frame.get("type")))
            if handler is None:
                continue  # unknown or informational types ("accepted"): forward compatible
            try:
                await handler(frame)
            except ProtocolError as exc:
                await self._error("invalid_frame", str(exc))
                # The frame can never become valid: acknowledge it anyway, or the agent would
                # keep it in its outbox and resend it after every reconnect, forever.
                frame_id = frame.get("id")
                if frame.get("type") in ACKED_TYPES and isinstance(frame_id, str) and frame_id:
                    await self._ack(frame)

    async def _seen(self) -> None:
        """Every frame proves the device alive; record it, at most every few seconds."""
        now = self._ctx.clock()
        if now - self._last_seen_ms >= LAST_SEEN_WRITE_MS:
            self._last_seen_ms = now
            await device_service.record_heartbeat(self._ctx, self.device)

    async def _error(self, code: str, message: str) -> None:
        await self.send_frame({"type": "error", "code": code, "message": message})

    async def _ack(self, frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "ack", "id": frame["id"]})

    async def _on_sent(self, frame: dict[str, Any]) -> None:
        _text(frame, "id")
        guid = _text(frame, "guid")
        await device_service.report_sent(
            self._ctx, self.device, guid, _int_or_none(frame.get("sim"))
        )
        await self._ack(frame)

    async def _on_failed(self, frame: dict[str, Any]) -> None:
        _text(frame, "id")
        guid = _text(frame, "guid")
        error = frame.get("error")
        await device_service.report_failed(
            self._ctx,
            self.device,
            guid,
            error if isinstance(error, str) else "",
            operator=frame.get("operator") is True,
        )
        await self._ack(frame)

    async def _on_received(self, frame: dict[str, Any]) -> None:
        frame_id = _text(frame, "id")
        # Phones do receive SMS with a hidden or empty sender: store them as they came.
        number = frame.get("number")
        if not isinstance(number, str):
            raise ProtocolError("'number' must be a string")
        text = frame.get("text")
        if not isinstance(text, str):
            raise ProtocolError("'text' must be a string")
        at = _int_or_none(frame.get("at")) or self._ctx.clock()
        await inbox_service.record_received(
            self._ctx,
            self.device,
            inbox_service.Inbound(
                frame_id=frame_id,
                number=number,
                text=text,
                received_ms=at,
                sim=_int_or_none(frame.get("sim")),
            ),
        )
        await self._ack(frame)

    async def _on_mobile_sent(self, frame: dict[str, Any]) -> None:
        """An SMS typed on the phone itself; stored once per frame id, then acked."""
        frame_id = _text(frame, "id")
        number = _text(frame, "number")
        text = frame.get("text")
        if not isinstance(text, str):
            raise ProtocolError("'text' must be a string")
        raw_at = frame.get("at")
        if isinstance(raw_at, float) and raw_at.is_integer():
            raw_at = int(raw_at)  # some JSON encoders write large integers as floats
        at = _int_or_none(raw_at)
        if at is None or at < 0:
            raise ProtocolError("'at' must be the sending time in Unix milliseconds")
        formatted = frame.get("formatted", "")
        if not isinstance(formatted, str) or len(formatted) > MAX_FORMATTED_CHARS:
            raise ProtocolError(f"'formatted' must be a string of at most {MAX_FORMATTED_CHARS}")
        await mobile_sent_service.record(
            self._ctx,
            self.device,
            mobile_sent_service.MobileSent(
                frame_id=frame_id, number=number, text=text, at_ms=at, formatted=formatted
            ),
        )
        await self._ack(frame)

    async def _on_ping(self, _frame: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def _on_pong(self, _frame: dict[str, Any]) -> None:
        """Nothing more to do: ``_seen`` already recorded the heartbeat."""

    async def _on_status(self, frame: dict[str, Any]) -> None:
        self._last_seen_ms = self._ctx.clock()
        await device_service.record_heartbeat(
            self._ctx,
            self.device,
            battery=_int_or_none(frame.get("battery")),
            signal=_int_or_none(frame.get("signal")),
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ctx.settings.heartbeat_seconds)
            try:
                await self.send_frame({"type": "ping"})
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    def _on_device_removed(self, device_id: str) -> None:
        """The device was deleted: stop dispatching to it now, then close its socket.

        Detaching first (synchronously, inside ``publish``) means no message is claimed for a
        device that no longer exists. The close code is the refused-token one, because the
        token is gone: the agent stops instead of reconnecting in a loop.
        """
        if device_id != str(self.device.id):
            return
        self._dispatcher.detach(self.device.account_id, self.device.id)
        self._closing = asyncio.get_running_loop().create_task(self._close_removed())

    async def _close_removed(self) -> None:
        self.log.info("device_removed")
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            async with self._send_lock:
                await self._ws.close(code=CLOSE_INVALID_TOKEN, reason="device deleted")
