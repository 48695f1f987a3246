"""One connected device: reads its frames, pushes it messages, keeps it alive.

The protocol is documented in docs/device-protocol.md; every frame in either direction goes
through the one codec in :mod:`simgate.protocol`, the same the agent uses. Every
state-changing frame from the device is acknowledged only after the service call that stores it
has committed, so a frame lost to a dropped connection is resent by the device and stored
exactly once. A frame the codec refuses is answered with an ``error`` frame naming the field and,
when it carries an id, acknowledged, so that the device drops it instead of resending it after
every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from simgate import bus
from simgate.context import Context
from simgate.devices.lifecycle import SessionState, next_state
from simgate.dispatch.dispatcher import Dispatcher
from simgate.dispatch.pacing import Limits
from simgate.domain.channels import carried_by
from simgate.domain.outgoing import Outgoing
from simgate.protocol import (
    ACKED_TYPES,
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_INVALID_TOKEN,
    CLOSE_REPLACED,
    PROTOCOL_VERSION,
    AcceptedFrame,
    AckFrame,
    DeliveredFrame,
    ErrorFrame,
    FailedFrame,
    Frame,
    HelloFrame,
    MobileSentFrame,
    PingFrame,
    PongFrame,
    ProtocolError,
    ReceivedFrame,
    SendFrame,
    SentFrame,
    StatusFrame,
    UnknownFrame,
    WelcomeFrame,
    decode_frame,
    encode_frame,
)
from simgate.services import delivery
from simgate.services import devices as device_service
from simgate.services import inbox as inbox_service
from simgate.services import mobile_sent as mobile_sent_service
from simgate.services.devices import Device, Hello

log = structlog.get_logger(__name__)

HELLO_TIMEOUT = 15.0
#: Any frame proves the device alive; it is noted at most this often (ms), and the notes of all
#: devices are written together (:mod:`simgate.services.heartbeats`).
SEEN_NOTE_MS = 1_000
#: Close codes of a device that ends its connection on purpose (its agent stopping).
CLEAN_CLOSE = frozenset({1000, 1001})
#: What a socket raises once the peer is gone, depending on where it noticed.
GONE = (WebSocketDisconnect, RuntimeError, OSError)


class HandshakeError(Exception):
    """The device did not open with a valid ``hello``: the connection is closed."""


class DeviceSession:
    """A device's live connection; the dispatcher's carrier for that device while live."""

    def __init__(
        self, ctx: Context, dispatcher: Dispatcher, websocket: WebSocket, device: Device
    ) -> None:
        self._ctx = ctx
        self._dispatcher = dispatcher
        self._ws = websocket
        self.device = device
        self._state = SessionState.CONNECTING
        self._channels: frozenset[str] = frozenset({"sms"})
        self._sims: frozenset[int] = frozenset()
        self._limits = Limits(
            per_minute=device.rate_per_minute,
            per_hour=device.rate_per_hour,
            daily_cap=device.daily_cap,
        )
        self._send_lock = asyncio.Lock()
        self._last_seen_note_ms = 0
        self._last_frame = time.monotonic()
        self._in_flight: set[str] = set()
        #: Of those, the ones the device answered ``accepted`` to: it has them.
        self._accepted: set[str] = set()
        #: Frames being stored; the read loop goes on meanwhile (see ``_in_background``).
        self._stores: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Task[None] | None = None
        self._reloading: asyncio.Task[None] | None = None
        self.log = log.bind(device_sid=device.sid, account_id=device.account_id)

    # -------------------------------------------------------------------------- carrier

    @property
    def device_id(self) -> int:
        return self.device.id

    @property
    def account_id(self) -> int:
        return self.device.account_id

    @property
    def sid(self) -> str:
        return self.device.sid

    @property
    def channels(self) -> frozenset[str]:
        return self._channels

    @property
    def sims(self) -> frozenset[int]:
        return self._sims

    @property
    def load(self) -> int:
        return len(self._in_flight)

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def state(self) -> SessionState:
        return self._state

    def capacity(self) -> int:
        if self._state is not SessionState.LIVE:
            return 0
        return max(0, self._ctx.settings.device_window - len(self._in_flight))

    async def deliver(self, batch: Sequence[Outgoing]) -> None:
        """Push claimed messages; what cannot be handed over goes back to the queue at once."""
        for index, item in enumerate(batch):
            if self._state is not SessionState.LIVE:
                await self._put_back(batch[index:])
                return
            self._in_flight.add(item.guid)
            try:
                await self._send(_send_frame(item))
            except GONE:
                self.log.info("deliver_interrupted", unsent=len(batch) - index)
                await self._put_back(batch[index:])
                self._become(SessionState.CLOSING)
                return

    async def _put_back(self, items: Sequence[Outgoing]) -> None:
        guids = [item.guid for item in items]
        self._in_flight.difference_update(guids)
        await delivery.put_back(self._ctx, self.device, guids)

    # ------------------------------------------------------------------------ lifecycle

    def _become(self, state: SessionState) -> None:
        self._state = next_state(self._state, state)

    async def run(self) -> None:
        """Handshake, hand over what the device held, then serve frames until it goes."""
        unsubscribers = [
            self._ctx.bus.subscribe(bus.DEVICE_REMOVED, self._on_device_removed),
            self._ctx.bus.subscribe(bus.DEVICE_CHANGED, self._on_device_changed),
        ]
        keepers: list[asyncio.Task[None]] = []
        clean = False
        try:
            hello = await self._handshake()
            previous = self._dispatcher.attach(self)
            if isinstance(previous, DeviceSession):
                previous.replaced()
            # Only now: what the replaced session handed out until a moment ago is included.
            held = await delivery.held(self._ctx, self.device)
            self._in_flight.update(item.guid for item in held)
            self._become(SessionState.LIVE)
            self.log.info(
                "device_connected", version=hello.version, driver=hello.driver, held=len(held)
            )
            for item in held:
                await self._send(_send_frame(item))
            self._dispatcher.kick(self.account_id)
            loop = asyncio.get_running_loop()
            keepers = [loop.create_task(self._pinger()), loop.create_task(self._lease_keeper())]
            await self._read_loop()
        except WebSocketDisconnect as exc:
            clean = exc.code in CLEAN_CLOSE
            raise
        finally:
            self._become(SessionState.CLOSED)
            for unsubscribe in unsubscribers:
                unsubscribe()
            current = self._dispatcher.detach(self)
            for task in keepers:
                task.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            # What the device reported sent must be stored before anything is put back.
            await asyncio.gather(*self._stores, return_exceptions=True)
            await self._hand_over(clean=clean, current=current)

    async def _hand_over(self, *, clean: bool, current: bool) -> None:
        """What happens to the device's messages as its connection ends.

        A device that closes cleanly (its agent stopping) has reported everything its radio
        took; what it never even accepted goes back to the queue at once, for another phone.
        A device that vanished keeps its leases: it may be sending them right now, and on
        reconnecting it reports what it sent instead of sending again.
        """
        unaccepted = self._in_flight - self._accepted if clean else set()
        try:
            if unaccepted:
                await delivery.put_back(self._ctx, self.device, sorted(unaccepted))
            if current:
                await device_service.record_offline(self._ctx, self.device)
        except Exception:
            self.log.exception("hand_over_failed")
        self.log.info(
            "device_disconnected",
            clean=clean,
            handed_back=len(unaccepted),
            kept=len(self._in_flight) - len(unaccepted),
        )

    async def _handshake(self) -> HelloFrame:
        try:
            raw = await asyncio.wait_for(self._receive(), timeout=HELLO_TIMEOUT)
        except TimeoutError:
            raise HandshakeError("no hello within 15 s") from None
        try:
            frame = decode_frame(raw)
        except ProtocolError as exc:
            await self._refuse(exc)
            raise HandshakeError(exc.message) from exc
        if not isinstance(frame, HelloFrame):
            await self._send(
                ErrorFrame(code="hello_expected", message="the first frame must be hello")
            )
            raise HandshakeError("the first frame must be 'hello'")
        self._channels = carried_by(frame.capabilities)
        self._sims = frozenset(frame.sims)
        self._limits = replace(
            self._limits, reported_count=frame.rate_count, reported_seconds=frame.rate_seconds
        )
        # The hello writes a newer state than an unwritten note of an earlier connection.
        self._ctx.heartbeats.forget(self.device.id)
        await device_service.record_hello(
            self._ctx,
            self.device,
            Hello(
                version=frame.version or None,
                driver=frame.driver or None,
                sims=list(frame.sims),
                capabilities=list(frame.capabilities),
                battery=frame.battery,
                signal=frame.signal,
                charging=frame.charging,
                rate_count=frame.rate_count,
                rate_seconds=frame.rate_seconds,
            ),
        )
        await self._send(
            WelcomeFrame(
                protocol=PROTOCOL_VERSION,
                sid=self.device.sid,
                label=self.device.label,
                heartbeat=self._ctx.settings.heartbeat_seconds,
            )
        )
        return frame

    def replaced(self) -> None:
        """A newer connection of the same device took over: stop taking work, then close."""
        if self._state in (SessionState.CLOSING, SessionState.CLOSED):
            return
        self._become(SessionState.CLOSING)
        self.log.info("device_replaced")
        self._close_soon(CLOSE_REPLACED, "replaced by a newer connection of this device")

    def _on_device_removed(self, device_id: str) -> None:
        """The device was deleted: stop dispatching to it now, then close its socket.

        The close code is the refused-token one, because the token is gone: the agent stops
        instead of reconnecting in a loop.
        """
        if device_id != str(self.device.id) or self._state is SessionState.CLOSED:
            return
        self._become(SessionState.CLOSING)
        self._dispatcher.detach(self)
        self.log.info("device_removed")
        self._close_soon(CLOSE_INVALID_TOKEN, "device deleted")

    def _on_device_changed(self, device_id: str) -> None:
        """The owner changed the device's limits: pace by the new ones from the next send."""
        if device_id == str(self.device.id) and self._state is not SessionState.CLOSED:
            self._reloading = asyncio.get_running_loop().create_task(self._reload())

    async def _reload(self) -> None:
        device = await device_service.device_by_id(self._ctx, self.device.id)
        if device is None:
            return
        self.device = device
        self._limits = replace(
            self._limits,
            per_minute=device.rate_per_minute,
            per_hour=device.rate_per_hour,
            daily_cap=device.daily_cap,
        )
        self._dispatcher.kick(self.account_id)

    def _close_soon(self, code: int, reason: str) -> None:
        self._closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(*GONE):
            async with self._send_lock:
                await self._ws.close(code=code, reason=reason)

    # --------------------------------------------------------------------------- frames

    async def _send(self, frame: Frame) -> None:
        async with self._send_lock:
            await self._ws.send_text(encode_frame(frame))

    async def _receive(self) -> str | bytes:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text: str | None = message.get("text")
        return text if text is not None else (message.get("bytes") or b"")

    async def _read_loop(self) -> None:
        while True:
            raw = await self._receive()
            self._last_frame = time.monotonic()
            self._seen()
            try:
                frame = decode_frame(raw)
            except ProtocolError as exc:
                await self._refuse(exc)
                continue
            await self._handle(frame)

    async def _handle(self, frame: Frame | UnknownFrame) -> None:
        if isinstance(frame, SentFrame | ReceivedFrame | MobileSentFrame):
            await self._in_background(frame)
            return
        if self._stores and not isinstance(frame, AcceptedFrame | PingFrame | PongFrame):
            # Anything else may depend on a frame before it (a delivery report on a message
            # just reported sent): store those first, in the order the device sent them.
            await asyncio.gather(*self._stores)
        match frame:
            case FailedFrame(id=frame_id, guid=guid, error=error, operator=operator):
                await delivery.report_failed(self._ctx, self.device, guid, error, operator=operator)
                await self._settled(guid, frame_id)
            case DeliveredFrame(id=frame_id, guid=guid, at=at):
                await delivery.report_delivered(self._ctx, self.device, guid, at)
                await self._send(AckFrame(id=frame_id))
            case StatusFrame(battery=battery, signal=signal, charging=charging):
                self._last_seen_note_ms = self._ctx.clock()
                self._ctx.heartbeats.note(
                    self.device.id,
                    self._last_seen_note_ms,
                    battery=battery,
                    signal=signal,
                    charging=charging,
                )
            case PingFrame():
                await self._send(PongFrame())
            case AcceptedFrame(guid=guid):
                if guid in self._in_flight:
                    self._accepted.add(guid)
            case PongFrame() | UnknownFrame():
                pass  # liveness only, or newer than us: forward compatible
            case _:
                await self._send(
                    ErrorFrame(
                        code="unexpected_frame",
                        message=f"a device does not send {frame.TYPE!r} frames",
                        field="type",
                    )
                )

    async def _in_background(self, frame: SentFrame | ReceivedFrame | MobileSentFrame) -> None:
        """Store a report or a received SMS without holding up the next frame.

        A device reports a window of messages in a burst, and hands over a backlog of received
        SMS after a reconnect; waiting for each commit before reading the next frame would make
        every frame its own transaction. Stored in the background, they share commits with
        every other device's (a group commit), each acknowledged once its commit is done. At
        most a window's worth is pending; past that the loop waits, so a device cannot pile
        up work.
        """
        if len(self._stores) >= max(1, self._ctx.settings.device_window):
            await asyncio.wait(self._stores, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.get_running_loop().create_task(self._store(frame))
        self._stores.add(task)
        task.add_done_callback(self._stores.discard)

    async def _store(self, frame: SentFrame | ReceivedFrame | MobileSentFrame) -> None:
        try:
            match frame:
                case SentFrame():
                    await delivery.report_sent(self._ctx, self.device, frame.guid, frame.sim)
                case ReceivedFrame():
                    await inbox_service.record_received(
                        self._ctx,
                        self.device,
                        inbox_service.Inbound(
                            frame_id=frame.id,
                            number=frame.number,
                            text=frame.text,
                            received_ms=self._ctx.clock() if frame.at is None else frame.at,
                            sim=frame.sim,
                        ),
                    )
                case MobileSentFrame():
                    await mobile_sent_service.record(
                        self._ctx,
                        self.device,
                        mobile_sent_service.MobileSent(
                            frame_id=frame.id,
                            number=frame.number,
                            text=frame.text,
                            at_ms=frame.at,
                            formatted=frame.formatted,
                        ),
                    )
        except Exception:
            # Not acknowledged: the device sends the frame again when it reconnects.
            self.log.exception("device_frame_not_stored", frame_type=frame.TYPE, frame_id=frame.id)
            self._become_closing()
            self._close_soon(1011, "could not store a frame")
            return
        with contextlib.suppress(*GONE):
            if isinstance(frame, SentFrame):
                await self._settled(frame.guid, frame.id)
            else:
                await self._send(AckFrame(id=frame.id))

    def _become_closing(self) -> None:
        if self._state not in (SessionState.CLOSING, SessionState.CLOSED):
            self._become(SessionState.CLOSING)

    async def _settled(self, guid: str, frame_id: str) -> None:
        """A report is stored: acknowledge it, and free its slot in the window.

        The dispatcher is kicked only when the window was full: with room left, every message
        this device could take was already handed to it, so a freed slot moves nothing, and a
        round for it would only queue for the write lock ahead of the next accepted message.
        """
        await self._send(AckFrame(id=frame_id))
        if guid in self._in_flight:
            was_full = self.capacity() == 0
            self._in_flight.discard(guid)
            self._accepted.discard(guid)
            if was_full:
                self._dispatcher.kick(self.account_id)

    async def _refuse(self, exc: ProtocolError) -> None:
        self.log.warning(
            "device_frame_refused",
            code=exc.code,
            field=exc.field,
            frame_type=exc.frame_type,
            reason=exc.message,
        )
        await self._send(ErrorFrame(code=exc.code, message=exc.message, field=exc.field or ""))
        # The frame can never become valid: acknowledge it anyway, or the agent would keep it
        # in its outbox and resend it after every reconnect, forever.
        if exc.frame_id is not None and exc.frame_type in ACKED_TYPES:
            await self._send(AckFrame(id=exc.frame_id))

    def _seen(self) -> None:
        """Every frame proves the device alive: note it (no write here; see SEEN_NOTE_MS)."""
        now = self._ctx.clock()
        if now - self._last_seen_note_ms >= SEEN_NOTE_MS:
            self._last_seen_note_ms = now
            self._ctx.heartbeats.note(self.device.id, now)

    # ------------------------------------------------------------------------- keepers

    def _silent_for(self) -> float:
        return time.monotonic() - self._last_frame

    async def _pinger(self) -> None:
        """Ping the device; close it once it has been silent for longer than "online" lasts.

        A phone that vanished without closing its socket would otherwise stay attached, and
        its leases renewed, for as long as the kernel keeps a dead TCP connection.
        """
        settings = self._ctx.settings
        # A device only has to answer pings: give it two of them before calling it gone.
        allowed = max(settings.device_online_seconds, 2 * settings.heartbeat_seconds)
        while True:
            await asyncio.sleep(settings.heartbeat_seconds)
            if self._silent_for() > allowed:
                self.log.info("device_silent", seconds=round(self._silent_for()))
                self._become(SessionState.CLOSING)
                await self._close(CLOSE_HEARTBEAT_TIMEOUT, "no frame from the device")
                return
            try:
                await self._send(PingFrame())
            except GONE:
                return

    async def _lease_keeper(self) -> None:
        """Renew the leases of what the device holds, a few times per lease period."""
        period = self._ctx.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(period)
            if self._state is SessionState.LIVE and self._in_flight:
                try:
                    await delivery.extend_leases(self._ctx, self.device)
                except Exception:
                    self.log.exception("lease_renewal_failed")


def _send_frame(item: Outgoing) -> SendFrame:
    return SendFrame(
        guid=item.guid,
        to=item.to,
        text=item.text,
        sim=item.sim,
        channel=item.channel,
        parts=item.parts,
    )
