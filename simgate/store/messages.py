"""Outgoing messages: stored, moved through their states, reported, leased and swept.

The dispatcher's reads and claims are in :mod:`simgate.store.dispatching`, the sent log's reads
in :mod:`simgate.store.sent_log`.

Every state change goes through the transition table of :mod:`simgate.domain.states`: each
UPDATE here is built by :func:`move`, which sets the new state and guards the row with
``state IN sources(new state)`` (narrowed further where the caller knows more). The guard makes
each move one atomic compare-and-set, so two processes can never both move the same message
and no caller can write a move the table forbids. A device's report is also guarded by the
holder (``device_id``), so a device can only settle messages it was handed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Update,
    bindparam,
    cast,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import IllegalTransition
from simgate.domain.expiry import REASON_PREFIX, REASON_SUFFIX
from simgate.domain.outgoing import Outgoing
from simgate.domain.states import MessageState, sources
from simgate.store.tables import messages

SCHEDULED = MessageState.SCHEDULED.value
QUEUED = MessageState.QUEUED.value
DISPATCHED = MessageState.DISPATCHED.value


def move(
    to: MessageState,
    *where: ColumnElement[bool],
    only_from: Collection[MessageState] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Update:
    """The UPDATE that moves the rows matching ``where`` to ``to``: the only way state changes.

    ``only_from`` narrows the table's sources of ``to`` (e.g. a resend starts from failed
    only); naming a source the table does not allow is a programming error.
    """
    allowed = sources(to)
    if only_from is not None:
        illegal = set(only_from) - allowed
        if illegal:
            listed = ", ".join(sorted(state.value for state in illegal))
            raise IllegalTransition(f"No transition from {listed} to {to.value} in the table.")
        allowed = frozenset(only_from)
    names = sorted(state.value for state in allowed)
    # One source compares with "=": cheaper, and usable in a statement run over many rows.
    guard = messages.c.state == names[0] if len(names) == 1 else messages.c.state.in_(names)
    return update(messages).where(guard, *where).values(state=to.value, **dict(values or {}))


def outgoing(row: RowMapping) -> Outgoing:
    """What a device needs of a claimed message row."""
    return Outgoing(
        guid=str(row["guid"]),
        to=str(row["recipient"]),
        text=str(row["text"]),
        sim=None if row["port"] is None else int(row["port"]),
        channel=row["channel"],
        parts=int(row["parts"]),
    )


_INSERT = messages.insert()  # built once: it keeps its cache key


async def insert_many(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    await conn.execute(_INSERT, list(rows))


async def get(conn: AsyncConnection, account_id: int, guid: str) -> RowMapping | None:
    result = await conn.execute(
        select(messages).where(messages.c.account_id == account_id, messages.c.guid == guid)
    )
    return result.mappings().first()


async def transition(
    conn: AsyncConnection,
    account_id: int,
    guid: str,
    to: MessageState,
    *,
    values: Mapping[str, Any] | None = None,
    only_from: Collection[MessageState] | None = None,
    holder: int | None = None,
) -> RowMapping | None:
    """Move one message to ``to`` if the table allows it from its current state.

    With ``holder``, only while that device holds the message. Returns the updated row, or None
    when the message is not in a state it may move from (or is held by another device): the
    caller decides whether that is a conflict or a harmless repeat.
    """
    where = [messages.c.account_id == account_id, messages.c.guid == guid]
    if holder is not None:
        where.append(messages.c.device_id == holder)
    result = await conn.execute(
        move(to, *where, only_from=only_from, values=values).returning(messages)
    )
    row: RowMapping | None = result.mappings().first()
    return row


async def mark_sent(
    conn: AsyncConnection,
    reports: Sequence[tuple[int, str, int | None]],
    *,
    now_ms: int,
) -> dict[str, RowMapping]:
    """Move each ``(device_id, guid, sim)`` to sent if that device holds it; the rows moved,
    by GUID.

    Many devices' reports in a few statements (one per SIM number reported): the device
    reports of a busy gateway are stored together (see :mod:`simgate.store.groupcommit`).
    """
    by_sim: dict[int | None, list[tuple[int, str]]] = {}
    for device_id, guid, sim in reports:
        by_sim.setdefault(sim, []).append((device_id, guid))
    moved: dict[str, RowMapping] = {}
    for sim, pairs in by_sim.items():
        result = await conn.execute(
            move(
                MessageState.SENT,
                # The plain IN finds the rows by the unique GUID index; the pair checks the holder.
                messages.c.guid.in_(sorted({guid for _device, guid in pairs})),
                tuple_(messages.c.device_id, messages.c.guid).in_(pairs),
                only_from=(MessageState.DISPATCHED,),
                values={
                    "sent_ms": now_ms,
                    "updated_ms": now_ms,
                    "sent_sim": sim,
                    "lease_until_ms": None,
                    "error_mobile": "",
                },
            ).returning(messages)
        )
        moved.update((str(row["guid"]), row) for row in result.mappings())
    return moved


async def holders(
    conn: AsyncConnection, guids: Collection[str]
) -> dict[str, tuple[str, int | None]]:
    """State and holding device of each of ``guids`` that exists."""
    if not guids:
        return {}
    result = await conn.execute(
        select(messages.c.guid, messages.c.state, messages.c.device_id).where(
            messages.c.guid.in_(sorted(guids))
        )
    )
    return {str(row.guid): (str(row.state), row.device_id) for row in result}


_RENEW_HELD = (  # built once: every (re)connecting phone runs it
    update(messages)
    .where(messages.c.device_id == bindparam("b_device"), messages.c.state == DISPATCHED)
    .values(lease_until_ms=bindparam("b_lease"), updated_ms=bindparam("b_now"))
    .returning(messages)
)


async def renew_held(
    conn: AsyncConnection, device_id: int, *, now_ms: int, lease_until_ms: int
) -> list[Outgoing]:
    """The messages a (re)connecting device holds but has not reported, with a fresh lease."""
    result = await conn.execute(
        _RENEW_HELD, {"b_device": device_id, "b_lease": lease_until_ms, "b_now": now_ms}
    )
    rows = sorted(result.mappings().all(), key=lambda row: int(row["id"]))
    return [outgoing(row) for row in rows]


async def extend_leases(conn: AsyncConnection, device_id: int, *, lease_until_ms: int) -> int:
    """Push back the lease of everything a live device holds; how many leases were renewed.

    A phone working through its window slowly (a modem takes seconds per SMS) must not have its
    messages handed to another phone meanwhile: its session renews them while it is connected.
    """
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.device_id == device_id,
            messages.c.state == DISPATCHED,
            messages.c.lease_until_ms < lease_until_ms,
        )
        .values(lease_until_ms=lease_until_ms)
    )
    return int(result.rowcount)


async def mark_delivered(
    conn: AsyncConnection, account_id: int, device_id: int, guid: str, at_ms: int
) -> bool:
    """Record the delivery report of a message this device holds or sent; False otherwise.

    Not a state change: a delivered message stays ``sent``. A report that overtakes the
    device's own ``sent`` report (both travel separately) is kept all the same. The first
    report wins.
    """
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.account_id == account_id,
            messages.c.guid == guid,
            messages.c.device_id == device_id,
            messages.c.state.in_((DISPATCHED, MessageState.SENT.value)),
            messages.c.delivered_ms.is_(None),
        )
        .values(delivered_ms=at_ms)
    )
    return bool(result.rowcount)


async def requeue_held(
    conn: AsyncConnection, account_id: int, device_id: int, guids: Collection[str], now_ms: int
) -> int:
    """Put messages the device holds but never received (or never accepted, as it left
    cleanly) back in the queue, at once."""
    if not guids:
        return 0
    result = await conn.execute(
        move(
            MessageState.QUEUED,
            messages.c.account_id == account_id,
            messages.c.device_id == device_id,
            messages.c.guid.in_(sorted(guids)),
            only_from=(MessageState.DISPATCHED,),
            values={
                "device_id": None,
                "lease_until_ms": None,
                "updated_ms": now_ms,
                # It never reached the phone: its TTL still runs, as for any waiting message.
                "dispatched_ms": None,
            },
        )
    )
    return int(result.rowcount)


async def requeue_expired(conn: AsyncConnection, now_ms: int) -> list[int]:
    """Return messages whose lease ran out to the queue; the accounts concerned."""
    result = await conn.execute(
        move(
            MessageState.QUEUED,
            messages.c.lease_until_ms < now_ms,
            only_from=(MessageState.DISPATCHED,),
            values={"device_id": None, "lease_until_ms": None, "updated_ms": now_ms},
        ).returning(messages.c.account_id)
    )
    return sorted({int(account_id) for account_id in result.scalars().all()})


async def promote_due(conn: AsyncConnection, now_ms: int) -> list[int]:
    """Queue the scheduled messages whose send time has come; the accounts concerned."""
    result = await conn.execute(
        move(
            MessageState.QUEUED,
            messages.c.not_before_ms <= now_ms,
            only_from=(MessageState.SCHEDULED,),
            values={"updated_ms": now_ms},
        ).returning(messages.c.account_id)
    )
    return sorted({int(account_id) for account_id in result.scalars().all()})


def _waiting_for_first_phone() -> ColumnElement[bool]:
    """Messages whose TTL still applies: no phone has been handed them since they were stored
    (or resent). One a phone had may already be on the air, so it never expires."""
    return messages.c.dispatched_ms.is_(None)


async def expire_due(conn: AsyncConnection, now_ms: int) -> list[int]:
    """End as expired the queued messages no phone took before ``expires_ms``; the accounts.

    ``error_api`` says how long the message waited: ``expires_ms - not_before_ms`` is its TTL,
    since a message no phone was handed has ``not_before_ms`` where its TTL started (its
    schedule, its storing or its resend). Only queued messages expire: a scheduled one expires
    after its schedule time, so the scheduler, which promotes due messages first in the same
    transaction, always finds it queued by then.
    """
    waited = cast((messages.c.expires_ms - messages.c.not_before_ms) // 1000, String)
    result = await conn.execute(
        move(
            MessageState.EXPIRED,
            messages.c.expires_ms <= now_ms,
            _waiting_for_first_phone(),
            only_from=(MessageState.QUEUED,),
            values={
                "error_api": literal(REASON_PREFIX, String) + waited + literal(REASON_SUFFIX),
                "lease_until_ms": None,
                "updated_ms": now_ms,
            },
        ).returning(messages.c.account_id)
    )
    return sorted({int(account_id) for account_id in result.scalars().all()})


async def release_device(
    conn: AsyncConnection,
    account_id: int,
    device_id: int,
    sid: str,
    *,
    error: str,
    now_ms: int,
) -> tuple[int, int]:
    """Before a device is deleted: fail what only it could send, requeue what it merely holds.

    A message addressed to the device's SID that has not gone out can never go out any more,
    so it fails with ``error`` in ``error_api``. A message the device holds without being
    addressed to it goes back to the queue at once, for another device, instead of waiting for
    its lease to run out. Returns ``(failed, requeued)``.
    """
    failed = await conn.execute(
        move(
            MessageState.FAILED,
            messages.c.account_id == account_id,
            messages.c.requested_sid == sid,
            values={"error_api": error, "lease_until_ms": None, "updated_ms": now_ms},
        )
    )
    requeued = await conn.execute(
        move(
            MessageState.QUEUED,
            messages.c.account_id == account_id,
            messages.c.device_id == device_id,
            only_from=(MessageState.DISPATCHED,),
            values={"device_id": None, "lease_until_ms": None, "updated_ms": now_ms},
        )
    )
    return int(failed.rowcount), int(requeued.rowcount)


async def due_accounts(conn: AsyncConnection, now_ms: int) -> list[int]:
    result = await conn.execute(
        select(messages.c.account_id)
        .where(messages.c.state == QUEUED, messages.c.not_before_ms <= now_ms)
        .distinct()
    )
    return [int(value) for value in result.scalars().all()]


async def next_wakeup(conn: AsyncConnection, now_ms: int) -> int | None:
    """The earliest future moment at which a message becomes due, expires or a lease runs out."""
    due = await conn.execute(
        select(func.min(messages.c.not_before_ms)).where(
            messages.c.state.in_((QUEUED, SCHEDULED)), messages.c.not_before_ms > now_ms
        )
    )
    lease = await conn.execute(
        select(func.min(messages.c.lease_until_ms)).where(messages.c.state == DISPATCHED)
    )
    expiry = await conn.execute(
        select(func.min(messages.c.expires_ms)).where(
            messages.c.state == QUEUED,
            messages.c.expires_ms > now_ms,
            _waiting_for_first_phone(),
        )
    )
    moments = (due.scalar(), lease.scalar(), expiry.scalar())
    candidates = [value for value in moments if value is not None]
    return int(min(candidates)) if candidates else None
