"""The driver's side of the conversation: what the phone reports without being asked.

Battery and signal changes go straight to the live connection (best effort, as ``status``) and
are remembered for the next ``hello``. An SMS that arrived, or one the owner typed on the phone,
becomes a ``received``/``mobile_sent`` frame in the durable outbox before the driver is asked for
its next event, so a crash cannot lose it.

An event with a ``key`` gets a frame id derived from it, the same whenever the driver reads that
SMS again: a second copy is then not queued while the first waits for its ack, and the server,
which stores one SMS per frame id, drops a copy sent after the first was acknowledged. The
event's ``ref`` travels with the frame, and the server's ack hands it back to the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed

from simgate.agent.connection import Connection
from simgate.agent.drivers.base import DeliveryReport, Driver, DriverEvent, InboundSms, StatusUpdate
from simgate.agent.outbox import AckedFrame, Outbox, PendingFrame
from simgate.protocol import (
    DeliveredFrame,
    MobileSentFrame,
    ReceivedFrame,
    StatusFrame,
    format_phone_time,
    new_frame_id,
)

__all__ = ["EventPump", "stable_frame_id"]

log = logging.getLogger(__name__)

_DRIVER_RESTART_SECONDS = 5.0


def stable_frame_id(driver: str, key: str) -> str:
    """The frame id of the event ``key`` of ``driver``: 64 hex digits, where fresh ids have 32,
    so the two kinds never meet."""
    return hashlib.sha256(f"{driver}\x00{key}".encode()).hexdigest()


def _clamp(value: int | None, top: int) -> int | None:
    return None if value is None else max(0, min(top, value))


def _clamped(status: StatusUpdate) -> StatusUpdate:
    return StatusUpdate(
        battery=_clamp(status.battery, 100),
        signal=_clamp(status.signal, 4),
        charging=status.charging,
    )


class EventPump:
    """Reads the driver's event stream (:meth:`run`) and keeps the last battery/signal reading.

    ``connection`` returns the live connection, if there is one, for status updates.
    """

    def __init__(
        self, driver: Driver, outbox: Outbox, connection: Callable[[], Connection | None]
    ) -> None:
        self._driver = driver
        self._outbox = outbox
        self._connection = connection
        self.status = StatusUpdate()
        """The last battery/signal reading, clamped to the protocol's ranges."""

    async def read_status(self) -> StatusUpdate:
        """Ask the driver for battery and signal now; the last reading if it cannot tell."""
        try:
            async with asyncio.timeout(5.0):
                status = await self._driver.read_status()
        except Exception:
            log.warning("the %s driver could not read battery/signal", self._driver.name)
            status = self.status
        self.status = _clamped(status)
        return self.status

    async def run(self) -> None:
        """Handle the driver's events until its stream ends, restarting a stream that fails."""
        while True:
            events = self._driver.events()
            try:
                async for event in events:
                    await self._on_event(event)
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

    def acknowledged(self, item: PendingFrame) -> None:
        """The server acknowledged ``item``, whose event carried a driver ``ref``: tell the
        driver (a failing driver is logged; the ack itself stands)."""
        if item.ref is None:
            return
        try:
            self._driver.acknowledged(item.ref)
        except Exception:
            log.exception("the %s driver failed to take an acknowledgement", self._driver.name)

    async def _on_event(self, event: DriverEvent) -> None:
        if isinstance(event, StatusUpdate):
            self.status = _clamped(event)
            conn = self._connection()
            if conn is not None:
                with contextlib.suppress(ConnectionClosed):
                    await conn.send(
                        StatusFrame(
                            battery=self.status.battery,
                            signal=self.status.signal,
                            charging=self.status.charging,
                        )
                    )
            return
        frame_id = (
            new_frame_id() if event.key is None else stable_frame_id(self._driver.name, event.key)
        )
        if self._outbox.pending(frame_id) is not None:
            return  # read again (after a restart, say) while the first copy awaits its ack
        frame: AckedFrame
        if isinstance(event, DeliveryReport):
            frame = DeliveredFrame(id=frame_id, guid=event.guid, at=event.at_ms)
        elif isinstance(event, InboundSms):
            frame = ReceivedFrame(
                id=frame_id,
                number=event.number,
                text=event.text,
                at=event.at_ms,
                sim=event.sim,
            )
        else:
            frame = MobileSentFrame(
                id=frame_id,
                number=event.number,
                text=event.text,
                at=event.at_ms,
                formatted=format_phone_time(event.at_ms),
            )
        self._outbox.append(frame, ref=event.ref)
        # Durable before the driver is asked for the next event (see Driver.events).
        await self._outbox.commit()
