"""Claims due messages for connected devices and pushes them out, the moment work appears.

Nothing here polls: a "work" notification on the bus (a message was accepted, a device
connected, a scheduled time arrived) starts one drain task per account, which claims batches
round-robin across that account's connected devices until nothing more can be claimed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.engine import RowMapping

from simgate import bus
from simgate.context import Context
from simgate.store import messages as message_store

log = structlog.get_logger(__name__)

Deliver = Callable[[list[RowMapping]], Awaitable[None]]

#: Messages claimed for one device per round: small enough to spread a burst over devices.
BATCH = 25


@dataclass(frozen=True)
class Attached:
    """A device connected to this process, and how to hand it messages."""

    device_id: int
    account_id: int
    sid: str
    channels: frozenset[str]
    deliver: Deliver


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._devices: dict[int, dict[int, Attached]] = {}
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._turn: dict[int, int] = {}
        self._unsubscribe = ctx.bus.subscribe(bus.WORK, lambda account: self.kick(int(account)))

    def attach(self, device: Attached) -> None:
        self._devices.setdefault(device.account_id, {})[device.device_id] = device
        self.kick(device.account_id)

    def detach(self, account_id: int, device_id: int) -> None:
        devices = self._devices.get(account_id)
        if devices is not None:
            devices.pop(device_id, None)
            if not devices:
                del self._devices[account_id]

    def connected(self, account_id: int) -> list[Attached]:
        return list(self._devices.get(account_id, {}).values())

    def kick(self, account_id: int) -> None:
        """Note that ``account_id`` may have work; start draining it unless already doing so."""
        if account_id not in self._devices:
            return
        self._dirty.add(account_id)
        if account_id not in self._draining:
            task = asyncio.get_running_loop().create_task(self._drain(account_id))
            self._draining[account_id] = task
            task.add_done_callback(lambda _t: self._draining.pop(account_id, None))

    async def _drain(self, account_id: int) -> None:
        try:
            while account_id in self._dirty:
                self._dirty.discard(account_id)
                while await self._round(account_id):
                    pass
        except Exception:
            # A database hiccup must not kill dispatching for good: the next kick retries.
            log.exception("dispatch_failed", account_id=account_id)

    async def _round(self, account_id: int) -> bool:
        """One claim per connected device, rotating who goes first; True if anything moved."""
        devices = self.connected(account_id)
        if not devices:
            return False
        turn = self._turn.get(account_id, 0) % len(devices)
        self._turn[account_id] = turn + 1
        moved = False
        for device in devices[turn:] + devices[:turn]:
            now = self._ctx.clock()
            async with self._ctx.db.begin() as conn:
                rows = await message_store.claim(
                    conn,
                    account_id,
                    device_id=device.device_id,
                    device_sid=device.sid,
                    channels=device.channels,
                    now_ms=now,
                    lease_until_ms=now + self._ctx.settings.lease_seconds * 1000,
                    limit=BATCH,
                )
            if rows:
                moved = True
                await device.deliver(rows)
        return moved

    async def close(self) -> None:
        self._unsubscribe()
        tasks = list(self._draining.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
