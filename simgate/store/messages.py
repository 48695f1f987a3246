"""Outgoing messages: the queue the dispatcher claims from and the sent log clients read.

Every state change goes through the transition table of :mod:`simgate.domain.states`: each
UPDATE here is built by :func:`_move`, which sets the new state and guards the row with
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
    Select,
    String,
    Update,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import IllegalTransition
from simgate.domain.expiry import REASON_PREFIX, REASON_SUFFIX
from simgate.domain.outgoing import Outgoing
from simgate.domain.routing import Candidate
from simgate.domain.states import MessageState, sources
from simgate.store.listparams import DIALECTS, list_value, member_of
from simgate.store.tables import inbox, messages

SCHEDULED = MessageState.SCHEDULED.value
QUEUED = MessageState.QUEUED.value
DISPATCHED = MessageState.DISPATCHED.value


def _move(
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
        _move(to, *where, only_from=only_from, values=values).returning(messages)
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
            _move(
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


def _due(dialect: str) -> Select[Any]:
    return (
        select(
            messages.c.id,
            messages.c.recipient,
            messages.c.channel,
            messages.c.requested_sid,
            messages.c.port,
            messages.c.retries,
            messages.c.device_sid,
        )
        .where(
            messages.c.account_id == bindparam("b_account"),
            messages.c.state == QUEUED,
            # "+ 0" keeps the planner off the not_before index: it then walks the account's
            # queue in id order (ix_messages_queue) and stops at the limit, instead of reading
            # and sorting the whole queue every round (SQLite has no statistics to know).
            messages.c.not_before_ms + 0 <= bindparam("b_now"),
            or_(
                messages.c.requested_sid.is_(None),
                member_of(messages.c.requested_sid, "b_sids", dialect),
            ),
            member_of(messages.c.channel, "b_channels", dialect),
        )
        .order_by(messages.c.id)
        .limit(bindparam("b_limit"))
        .with_for_update(skip_locked=True)
    )


# The dispatcher's statements, built once per dialect (they keep their cache keys).
_DUE = {dialect: _due(dialect) for dialect in DIALECTS}
_CLAIM_FOR_ONE = _move(
    MessageState.DISPATCHED,
    messages.c.account_id == bindparam("b_account"),
    messages.c.id.in_(bindparam("b_ids", expanding=True)),
    values={
        "device_id": bindparam("b_device"),
        "device_sid": bindparam("b_sid"),
        "dispatched_ms": bindparam("b_now"),
        "lease_until_ms": bindparam("b_lease"),
        "updated_ms": bindparam("b_now"),
    },
).returning(messages)


async def due_candidates(
    conn: AsyncConnection,
    account_id: int,
    *,
    now_ms: int,
    sids: Collection[str],
    channels: Collection[str],
    limit: int,
) -> list[Candidate]:
    """The oldest due messages some connected device could take, for routing to plan over.

    Messages pinned to a device that is not connected are left out, so they cannot hold the
    head of the queue. On PostgreSQL the rows are locked until the claim commits, and rows
    another process is claiming are skipped.
    """
    dialect = conn.dialect.name
    result = await conn.execute(
        _DUE[dialect],
        {
            "b_account": account_id,
            "b_now": now_ms,
            "b_sids": list_value(sorted(sids), dialect),
            "b_channels": list_value(sorted(channels), dialect),
            "b_limit": limit,
        },
    )
    return [
        Candidate(
            id=int(row.id),
            recipient=str(row.recipient),
            channel=str(row.channel),
            requested_sid=row.requested_sid,
            port=None if row.port is None else int(row.port),
            retries=int(row.retries),
            last_sid=row.device_sid,
        )
        for row in result.all()
    ]


async def claim(
    conn: AsyncConnection,
    account_id: int,
    plan: Mapping[int, tuple[int, str]],
    *,
    now_ms: int,
    lease_until_ms: int,
) -> dict[int, list[Outgoing]]:
    """Move the planned messages (id → (device id, device SID)) that are still queued to
    dispatched for their device; what each device got, oldest first.

    One statement for the whole plan, however many devices it spans (run as one prepared
    statement over all rows), then one read of what the devices need to send.
    """
    if not plan:
        return {}
    devices = {device for device, _sid in plan.values()}
    if len(devices) == 1:
        # The usual round while traffic is light: one device, one statement with RETURNING.
        [(device_id, sid)] = set(plan.values())
        result = await conn.execute(
            _CLAIM_FOR_ONE,
            {
                "b_account": account_id,
                "b_ids": sorted(plan),
                "b_device": device_id,
                "b_sid": sid,
                "b_now": now_ms,
                "b_lease": lease_until_ms,
            },
        )
        rows = sorted(result.mappings().all(), key=lambda row: int(row["id"]))
        return {device_id: [outgoing(row) for row in rows]} if rows else {}
    await conn.execute(
        _move(
            MessageState.DISPATCHED,
            messages.c.account_id == account_id,
            messages.c.id == bindparam("b_id"),
            values={
                "device_id": bindparam("b_device"),
                "device_sid": bindparam("b_sid"),
                "dispatched_ms": now_ms,
                "lease_until_ms": lease_until_ms,
                "updated_ms": now_ms,
            },
        ),
        [
            {"b_id": message_id, "b_device": device_id, "b_sid": sid}
            for message_id, (device_id, sid) in plan.items()
        ],
    )
    result = await conn.execute(
        select(messages)
        .where(messages.c.id.in_(sorted(plan)), messages.c.state == DISPATCHED)
        .order_by(messages.c.id)
    )
    claimed: dict[int, list[Outgoing]] = {}
    for row in result.mappings():
        device_id, _sid = plan[int(row["id"])]
        # A row moved by this very claim: held by the planned device since now.
        if row["device_id"] == device_id and row["dispatched_ms"] == now_ms:
            claimed.setdefault(device_id, []).append(outgoing(row))
    return claimed


async def homes(
    conn: AsyncConnection, account_id: int, recipients: Collection[str]
) -> dict[str, str]:
    """For each recipient, the SID of the device of the account's latest exchange with them.

    An exchange is a message handed to a device for them, or an SMS received from them.
    """
    if not recipients:
        return {}
    wanted = sorted(set(recipients))
    latest: dict[str, tuple[int, str]] = {}
    outgoing_rows = await conn.execute(
        select(messages.c.recipient, messages.c.device_sid, func.max(messages.c.dispatched_ms))
        .where(
            messages.c.account_id == account_id,
            messages.c.recipient.in_(wanted),
            messages.c.device_sid.is_not(None),
            messages.c.dispatched_ms.is_not(None),
        )
        .group_by(messages.c.recipient, messages.c.device_sid)
    )
    incoming_rows = await conn.execute(
        select(inbox.c.number, inbox.c.device_sid, func.max(inbox.c.received_ms))
        .where(inbox.c.account_id == account_id, inbox.c.number.in_(wanted))
        .group_by(inbox.c.number, inbox.c.device_sid)
    )
    for number, sid, at in [*outgoing_rows.all(), *incoming_rows.all()]:
        if at is not None and (number not in latest or int(at) > latest[number][0]):
            latest[str(number)] = (int(at), str(sid))
    return {number: sid for number, (_at, sid) in latest.items()}


async def dispatch_history(
    conn: AsyncConnection, device_id: int, since_ms: int
) -> tuple[int | None, int]:
    """When the device was last handed a message, and how many it was handed since ``since_ms``."""
    result = await conn.execute(
        select(
            func.max(messages.c.dispatched_ms),
            func.count().filter(messages.c.dispatched_ms >= since_ms),
        ).where(messages.c.device_id == device_id)
    )
    last, count = result.one()
    return (None if last is None else int(last)), int(count or 0)


async def renew_held(
    conn: AsyncConnection, device_id: int, *, now_ms: int, lease_until_ms: int
) -> list[Outgoing]:
    """The messages a (re)connecting device holds but has not reported, with a fresh lease."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.device_id == device_id, messages.c.state == DISPATCHED)
        .values(lease_until_ms=lease_until_ms, updated_ms=now_ms)
        .returning(messages)
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
        _move(
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
        _move(
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
        _move(
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
        _move(
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
        _move(
            MessageState.FAILED,
            messages.c.account_id == account_id,
            messages.c.requested_sid == sid,
            values={"error_api": error, "lease_until_ms": None, "updated_ms": now_ms},
        )
    )
    requeued = await conn.execute(
        _move(
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
