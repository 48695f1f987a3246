"""Hands due messages to connected devices, the moment work appears and at the pace allowed.

Nothing here polls: a "work" notification on the bus (a message was accepted, a device
connected or reported, a scheduled time arrived) starts one drain task per account. Each round
reads the oldest due messages some connected device could take, lets the account's routing
policy (:mod:`simgate.domain.routing`) decide who takes which, and claims exactly those rows in
the same transaction (on PostgreSQL the rows are locked, and rows another process is claiming
are skipped). Rounds repeat until nothing more moves.

Each device holds at most a window of messages in flight; a report frees a slot and kicks the
account again. Without the window a phone would be handed the whole queue at once, and a slow
phone's leases could run out while it is still sending. A paced device (:mod:`.pacing`) takes
one message per slot; when waiting work could only go to paced devices, one timer wakes the
account at the earliest slot. A drain that fails (a database hiccup) is retried with backoff
instead of leaving work waiting for the scheduler's next safety tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from simgate import bus
from simgate.context import Context
from simgate.dispatch.pacing import Limits, Pacer
from simgate.domain import timefmt
from simgate.domain.outgoing import Outgoing
from simgate.domain.routing import Policy, Seat, plan, ports_served
from simgate.store import accounts as account_store
from simgate.store import dispatching as dispatch_store

log = structlog.get_logger(__name__)

#: Most due messages read per round; fewer when the devices have little room (a few per slot,
#: so that pinned, sticky or SIM-bound messages further back can still be matched).
CANDIDATES = 500
#: How long a routing policy read from the store is used before it is read again (ms).
POLICY_TTL_MS = 5_000
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

    @property
    def sims(self) -> frozenset[int]: ...

    @property
    def load(self) -> int:
        """Messages it holds and has not reported."""
        ...

    @property
    def limits(self) -> Limits: ...

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
        self._pacers: dict[int, Pacer] = {}
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._turn: dict[int, int] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._policies: dict[int, tuple[int, Policy]] = {}
        self._unsubscribers = [
            ctx.bus.subscribe(bus.WORK, lambda account: self.kick(int(account))),
            ctx.bus.subscribe(bus.ACCOUNT_CHANGED, self._forget_policy),
            # Work notifications from other processes may have been missed: look for every
            # account with a device here, instead of waiting for the scheduler's safety tick.
            ctx.bus.subscribe(bus.RESYNC, lambda _: self.kick_all()),
        ]

    def attach(self, carrier: Carrier) -> Carrier | None:
        """Register ``carrier`` for its device; the carrier it replaces, if any.

        One device, one carrier: a second connection with the same token replaces the first,
        and the caller closes the one returned.
        """
        devices = self._carriers.setdefault(carrier.account_id, {})
        previous = devices.get(carrier.device_id)
        devices[carrier.device_id] = carrier
        self._pacers.pop(carrier.device_id, None)  # its limits may have changed
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
        self._pacers.pop(carrier.device_id, None)
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
            self._draining[account_id] = asyncio.get_running_loop().create_task(
                self._drain(account_id)
            )

    def kick_all(self) -> None:
        """Kick every account that has a device connected to this process."""
        for account_id in list(self._carriers):
            self.kick(account_id)

    async def _drain(self, account_id: int) -> None:
        delay = RETRY_FIRST
        try:
            while account_id in self._dirty:
                self._dirty.discard(account_id)
                try:
                    policy = await self._policy(account_id)
                    while await self._round(account_id, policy):
                        pass
                except Exception:
                    # Not the scheduler's safety tick: retry soon, backing off while it fails.
                    log.exception("dispatch_failed", account_id=account_id, retry_in=delay)
                    self._dirty.add(account_id)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_LONGEST)
                else:
                    delay = RETRY_FIRST
        finally:
            # In the same step as the last look at ``_dirty``: a kick that comes after it
            # starts a new drain instead of finding this one about to end.
            self._draining.pop(account_id, None)

    def _forget_policy(self, account: str) -> None:
        self._policies.pop(int(account), None)

    async def _policy(self, account_id: int) -> Policy:
        """The account's routing policy, read at most every few seconds (it rarely changes,
        and it may be changed from another process, the CLI)."""
        now = self._ctx.clock()
        cached = self._policies.get(account_id)
        if cached is not None and 0 <= now - cached[0] < POLICY_TTL_MS:
            return cached[1]
        async with self._ctx.db.connect() as conn:
            name = await account_store.routing_policy(conn, account_id)
        try:
            policy = Policy(name or Policy.ROUND_ROBIN)
        except ValueError:
            policy = Policy.ROUND_ROBIN
        self._policies[account_id] = (now, policy)
        return policy

    async def _new_pacer(self, carrier: Carrier, now_ms: int) -> Pacer:
        """A new pacer for ``carrier``: its first round, or its limits changed (the rounds
        reuse the one they find, without an await per device)."""
        zone = self._ctx.settings.zone

        def day_start(ms: int) -> int:
            return timefmt.today_start_ms(ms, zone)

        last_ms, sent_today = None, 0
        if carrier.limits.paced:
            async with self._ctx.db.connect() as conn:
                last_ms, sent_today = await dispatch_store.dispatch_history(
                    conn, carrier.device_id, day_start(now_ms)
                )
        pacer = Pacer(carrier.limits, day_start=day_start, last_ms=last_ms, sent_today=sent_today)
        self._pacers[carrier.device_id] = pacer
        return pacer

    async def _round(self, account_id: int, policy: Policy) -> bool:
        """One plan over the connected devices with room; True if another round may move more."""
        carriers = self.connected(account_id)
        if not carriers:
            return False
        now = self._ctx.clock()
        seats: list[Seat] = []
        by_sid: dict[str, Carrier] = {}
        for carrier in carriers:
            pacer = self._pacers.get(carrier.device_id)
            if pacer is None or pacer.limits != carrier.limits:
                pacer = await self._new_pacer(carrier, now)
            room = pacer.room(now, carrier.capacity())
            seats.append(
                Seat(
                    sid=carrier.sid,
                    channels=carrier.channels,
                    sims=carrier.sims,
                    room=room,
                    load=carrier.load,
                )
            )
            by_sid[carrier.sid] = carrier
        if not any(seat.room for seat in seats):
            self._wake_at(account_id, self._next_slots(carriers, now))
            return False
        turn = self._turn.get(account_id, 0)
        self._turn[account_id] = turn + 1
        lease_until = now + self._ctx.settings.lease_seconds * 1000
        limit = min(CANDIDATES, 4 * sum(seat.room for seat in seats) + 16)
        async with self._ctx.db.begin() as conn:
            candidates = await dispatch_store.due_candidates(
                conn,
                account_id,
                now_ms=now,
                sids=list(by_sid),
                channels=frozenset().union(*(carrier.channels for carrier in carriers)),
                ports=ports_served([carrier.sims for carrier in carriers]),
                # A report frees one slot and starts a round: read a few rows for it, not all.
                limit=limit,
            )
            if not candidates:
                return False
            homes = (
                await dispatch_store.homes(conn, account_id, [c.recipient for c in candidates])
                if policy is Policy.STICKY
                else {}
            )
            assignment = plan(policy, seats, candidates, turn=turn, homes=homes)
            planned = {
                message_id: (by_sid[sid].device_id, sid)
                for sid, ids in assignment.items()
                for message_id in ids
            }
            got = await dispatch_store.claim(
                conn, account_id, planned, now_ms=now, lease_until_ms=lease_until
            )
        claimed = [
            (carrier, got[carrier.device_id])
            for carrier in by_sid.values()
            if got.get(carrier.device_id)
        ]
        for carrier, batch in claimed:
            self._pacers[carrier.device_id].record(now, len(batch))
        if sum(len(batch) for _carrier, batch in claimed) < len(candidates):
            # Work is left that may be for a paced device: look again when a slot opens.
            self._wake_at(account_id, self._next_slots(carriers, now))
        if not claimed:
            return False
        # The scheduler must wake when these leases end, not at its next safety tick.
        self._ctx.bus.publish(bus.DEADLINE, str(lease_until))
        for carrier, batch in claimed:
            await carrier.deliver(batch)
        # Fewer rows than asked for were all the due work: another round would find nothing
        # new (what no device could take waits for a report, a connection or a timer).
        return len(candidates) >= limit

    def _next_slots(self, carriers: Sequence[Carrier], now: int) -> list[int]:
        """When each paced device with room in its window may send next, if later than now."""
        slots = []
        for carrier in carriers:
            pacer = self._pacers.get(carrier.device_id)
            if pacer is not None and pacer.limits.paced and carrier.capacity() > 0:
                slot = pacer.next_slot(now)
                if slot > now:
                    slots.append(slot)
        return slots

    def _wake_at(self, account_id: int, slots: Sequence[int]) -> None:
        """Kick the account when the earliest paced device may send again (one timer each)."""
        if not slots:
            return
        delay = max(0.0, (min(slots) - self._ctx.clock()) / 1000)
        previous = self._timers.pop(account_id, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._timers[account_id] = loop.call_later(delay, self.kick, account_id)

    async def close(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        for timer in self._timers.values():
            timer.cancel()
        tasks = list(self._draining.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
