"""Cheap heartbeats: what connected devices' frames prove is written for all of them at once.

Every frame from a device proves it alive, and a ``status`` frame carries its battery and
signal. Writing that per frame (or per device every few seconds) costs one transaction each:
10 000 phones answering pings every 25 s would be 400 write transactions a second on SQLite's
single write lock, competing with the messages themselves. Here a frame only notes the device
in a dictionary (the newest note wins); a flusher writes the notes of every device in one
executemany UPDATE every ``interval`` seconds, whatever the number of devices.

Why a periodic flusher and not the group commit of :meth:`Database.together`: a heartbeat needs
no answer and no durability (a lost one is replaced by the next), and notes of one device
collapse into one row; the group commit would make each frame wait for a commit and still write
one row per frame. The delay is harmless where it is read: a device connected to this process
is online through the dispatcher whatever ``last_seen`` says, :meth:`pending` lets the device
list show the newest battery and time at once, and other processes sharing the database see
``last_seen`` at most ``interval`` seconds late, against an online window of a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store import devices as device_store
from simgate.store.devices import Beat

__all__ = ["Beat", "Heartbeats"]

log = structlog.get_logger(__name__)

#: Most rows per transaction: a 10 000-phone flush holds SQLite's write lock in short slices,
#: so an accepted message waits for one slice, not for the whole flush.
ROWS_PER_TRANSACTION = 2000


class Heartbeats:
    """Collects device heartbeats in memory and writes them together, every ``interval`` s.

    The flusher starts with the first note and stops when nothing is left to write, so an idle
    server runs no timer; :meth:`close` writes what is left (server shutdown).
    """

    def __init__(
        self,
        begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        interval: float,
    ) -> None:
        self._begin = begin
        self._interval = interval
        self._notes: dict[int, Beat] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()
        self._closed = False
        self.writes = 0
        """Transactions written so far (a test and a benchmark read it)."""

    def note(
        self,
        device_id: int,
        seen_ms: int,
        *,
        battery: int | None = None,
        signal: int | None = None,
        charging: bool | None = None,
    ) -> None:
        """Remember that ``device_id`` was heard at ``seen_ms`` (with its status, if given)."""
        before = self._notes.get(device_id)
        if before is not None:
            battery = before.battery if battery is None else battery
            signal = before.signal if signal is None else signal
            charging = before.charging if charging is None else charging
            seen_ms = max(seen_ms, before.seen_ms)
        self._notes[device_id] = Beat(device_id, seen_ms, battery, signal, charging)
        if self._flusher is None and not self._closed:
            self._flusher = asyncio.get_running_loop().create_task(
                self._run(), name="heartbeat-flusher"
            )

    def pending(self, device_id: int) -> Beat | None:
        """The note of ``device_id`` not written yet, if any (newer than its row)."""
        return self._notes.get(device_id)

    def forget(self, device_id: int) -> None:
        """Drop the unwritten note of a device whose ``hello`` has just written a newer state."""
        self._notes.pop(device_id, None)

    async def flush(self) -> None:
        """Write every note taken so far, in as few transactions as the batch size allows."""
        async with self._writing:  # close() waits for a flush in progress
            if self._notes:
                await self._write(list(self._notes.values()))

    async def _write(self, beats: list[Beat]) -> None:
        self._notes = {}
        for start in range(0, len(beats), ROWS_PER_TRANSACTION):
            chunk = beats[start : start + ROWS_PER_TRANSACTION]
            try:
                async with self._begin() as conn:
                    await device_store.touch_many(conn, chunk)
            except Exception:
                # Best effort: keep the notes for the next round unless newer ones came in.
                log.exception("heartbeats_not_written", devices=len(chunk))
                for beat in chunk:
                    self._notes.setdefault(beat.device_id, beat)
                raise
            self.writes += 1

    async def _run(self) -> None:
        try:
            while self._notes:
                await asyncio.sleep(self._interval)
                with contextlib.suppress(Exception):  # logged by flush; retried next round
                    # Shielded: close() cancels the timer, never a write that took the notes.
                    await asyncio.shield(self.flush())
        finally:
            self._flusher = None

    async def close(self) -> None:
        """Stop the flusher and write what is left (before the engine is disposed)."""
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        try:
            await self.flush()
        except Exception:
            return  # logged by flush: a lost heartbeat is not worth failing a shutdown
