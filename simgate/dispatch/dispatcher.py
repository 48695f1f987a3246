"""Claims due messages for connected devices and pushes them out, the moment work appears.

Nothing here polls: a "work" notification on the bus (a message was accepted, a device
connected or reported, a scheduled time arrived) starts one drain task per account, which
claims batches round-robin across that account's connected devices until nothing more can be
claimed or every device's window is full.

Each device holds at most a window of messages in flight; a report frees a slot and kicks the
account again. Without the window a phone would be handed the whole queue at once, and a slow
phone's leases could run out while it is still sending, handing the same messages to a second
phone. A drain that fails (a database hiccup) is retried with backoff instead of leaving work
waiting for the scheduler's next safety tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from simgate import bus
from simgate.context import Context
from simgate.domain.outgoing import Outgoing
from simgate.store import messages as message_store

log = structlog.get_logger(__name__)

#: Most messages claimed for one device per round: small enough to spread a burst over devices.
BATCH = 25
#: First and longest pause before a failed drain is tried again (seconds).
RETRY_FIRST = 0.05
RETRY_LONGEST = 5.0


class Carrier(Protocol):
    """A live device connection, as the dispatcher sees it (a device session satisfies it)."""

    @property
    def device_id(self) -> int: ...

    @property
    def account_id(self) -> int: ...

    @property
    def sid(self) -> str: ...

    @property
    def channels(self) -> frozenset[str]: ...

    def capacity(self) -> int:
        """How many more messages it may take now (0 when its window is full or it is closing)."""
        ...

    async def deliver(self, batch: Sequence[Outgoing]) -> None:
        """Push claimed messages; the carrier puts back what it could not hand over."""
        ...


class Dispatcher:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._carriers: dict[int, dict[int, Carrier]] = {}
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._turn: dict[int, int] = {}
        self._unsubscribe = ctx.bus.subscribe(bus.WORK, lambda account: self.kick(int(account)))

    def attach(self, carrier: Carrier) -> Carrier | None:
        """Register ``carrier`` for its device; the carrier it replaces, if any.

        One device, one carrier: a second connection with the same token replaces the first,
        and the caller closes the one returned.
        """
        devices = self._carriers.setdefault(carrier.account_id, {})
        previous = devices.get(carrier.device_id)
        devices[carrier.device_id] = carrier
        self.kick(carrier.account_id)
        return previous if previous is not carrier else None

    def detach(self, carrier: Carrier) -> bool:
        """Unregister ``carrier`` if it is still the one registered for its device.

        A session that was replaced must not remove its successor on its way out.
        """
        devices = self._carriers.get(carrier.account_id)
        if devices is None or devices.get(carrier.device_id) is not carrier:
            return False
        del devices[carrier.device_id]
        if not devices:
            del self._carriers[carrier.account_id]
        return True

    def connected(self, account_id: int) -> list[Carrier]:
        return list(self._carriers.get(account_id, {}).values())

    def kick(self, account_id: int) -> None:
        """Note that ``account_id`` may have work; start draining it unless already doing so."""
        if account_id not in self._carriers:
            return
        self._dirty.add(account_id)
        if account_id not in self._draining:
            task = asyncio.get_running_loop().create_task(self._drain(account_id))
            self._draining[account_id] = task
            task.add_done_callback(lambda _t: self._draining.pop(account_id, None))

    async def _drain(self, account_id: int) -> None:
        delay = RETRY_FIRST
        while account_id in self._dirty:
            self._dirty.discard(account_id)
            try:
                while await self._round(account_id):
                    pass
            except Exception:
                # Not the scheduler's safety tick: try again soon, backing off while it fails.
                log.exception("dispatch_failed", account_id=account_id, retry_in=delay)
                self._dirty.add(account_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_LONGEST)
            else:
                delay = RETRY_FIRST

    async def _round(self, account_id: int) -> bool:
        """One claim per connected device with room, rotating who goes first; True if any."""
        carriers = self.connected(account_id)
        if not carriers:
            return False
        turn = self._turn.get(account_id, 0) % len(carriers)
        self._turn[account_id] = turn + 1
        moved = False
        for carrier in carriers[turn:] + carriers[:turn]:
            room = min(BATCH, carrier.capacity())
            if room <= 0:
                continue
            now = self._ctx.clock()
            lease_until = now + self._ctx.settings.lease_seconds * 1000
            async with self._ctx.db.begin() as conn:
                batch = await message_store.claim(
                    conn,
                    account_id,
                    device_id=carrier.device_id,
                    device_sid=carrier.sid,
                    channels=carrier.channels,
                    now_ms=now,
                    lease_until_ms=lease_until,
                    limit=room,
                )
            if batch:
                moved = True
                # The scheduler must wake when these leases end, not at its next safety tick.
                self._ctx.bus.publish(bus.DEADLINE, str(lease_until))
                await carrier.deliver(batch)
        return moved

    async def close(self) -> None:
        self._unsubscribe()
        tasks = list(self._draining.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
