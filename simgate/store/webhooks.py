"""Webhook endpoints and the outbox of their deliveries: the only SQL of the webhooks.

Every delivery state change is built by :func:`_move`, guarded by the states the domain's table
allows to reach the new one, so no caller can write a move the table forbids. A claim fences
the delivery with its ``attempts`` count: a worker whose lease ran out (and whose delivery was
claimed again by another) can no longer settle it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    select,
    true,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import alias

from simgate.domain.errors import IllegalTransition
from simgate.domain.webhooks import DeliveryState, delivery_sources
from simgate.store.tables import webhook_deliveries as deliveries
from simgate.store.tables import webhook_endpoints as endpoints

PENDING = DeliveryState.PENDING.value
DELIVERING = DeliveryState.DELIVERING.value
UNSETTLED = (PENDING, DELIVERING)


# ----------------------------------------------------------------------------------- endpoints


async def create_endpoint(conn: AsyncConnection, values: Mapping[str, Any]) -> RowMapping:
    result = await conn.execute(endpoints.insert().values(**values).returning(endpoints))
    row: RowMapping = result.mappings().one()
    return row


async def list_endpoints(conn: AsyncConnection, account_id: int) -> Sequence[RowMapping]:
    result = await conn.execute(
        select(endpoints).where(endpoints.c.account_id == account_id).order_by(endpoints.c.id)
    )
    return result.mappings().all()


async def get_endpoint(
    conn: AsyncConnection, account_id: int, endpoint_id: int
) -> RowMapping | None:
    result = await conn.execute(
        select(endpoints).where(endpoints.c.account_id == account_id, endpoints.c.id == endpoint_id)
    )
    return result.mappings().first()


async def update_endpoint(
    conn: AsyncConnection, account_id: int, endpoint_id: int, values: Mapping[str, Any]
) -> RowMapping | None:
    result = await conn.execute(
        update(endpoints)
        .where(endpoints.c.account_id == account_id, endpoints.c.id == endpoint_id)
        .values(**values)
        .returning(endpoints)
    )
    row: RowMapping | None = result.mappings().first()
    return row


async def delete_endpoint(conn: AsyncConnection, account_id: int, endpoint_id: int) -> bool:
    """Delete the endpoint and its deliveries (explicitly: not every SQLite enforces keys)."""
    await conn.execute(
        delete(deliveries).where(
            deliveries.c.account_id == account_id, deliveries.c.endpoint_id == endpoint_id
        )
    )
    result = await conn.execute(
        delete(endpoints).where(endpoints.c.account_id == account_id, endpoints.c.id == endpoint_id)
    )
    return bool(result.rowcount)


async def subscriptions(conn: AsyncConnection, account_id: int) -> Sequence[RowMapping]:
    """The account's enabled endpoints: id, format and the events they want."""
    result = await conn.execute(
        select(endpoints.c.id, endpoints.c.format, endpoints.c.events).where(
            endpoints.c.account_id == account_id, endpoints.c.enabled == true()
        )
    )
    return result.mappings().all()


async def state_counts(
    conn: AsyncConnection, account_id: int, *, delivered: bool = True
) -> dict[int, dict[str, int]]:
    """Per endpoint of the account, how many deliveries are in each state.

    ``delivered=False`` counts only the deliveries not delivered (waiting or dead): they are
    found through ``ix_webhook_deliveries_due`` without reading the delivered ones, which make
    most of a log that is never trimmed.
    """
    query = select(deliveries.c.endpoint_id, deliveries.c.state, func.count()).where(
        deliveries.c.account_id == account_id
    )
    if not delivered:
        query = query.where(deliveries.c.state.in_([PENDING, DELIVERING, DeliveryState.DEAD.value]))
    result = await conn.execute(query.group_by(deliveries.c.endpoint_id, deliveries.c.state))
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, count in result.all():
        counts.setdefault(int(endpoint_id), {})[str(state)] = int(count)
    return counts


# ---------------------------------------------------------------------------------- deliveries


def _move(
    to: DeliveryState,
    *where: ColumnElement[bool],
    only_from: Collection[DeliveryState] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Update:
    """The UPDATE that moves the deliveries matching ``where`` to ``to``: the only way their
    state changes."""
    allowed = delivery_sources(to)
    if only_from is not None:
        illegal = set(only_from) - allowed
        if illegal:
            listed = ", ".join(sorted(state.value for state in illegal))
            raise IllegalTransition(f"No delivery transition from {listed} to {to.value}.")
        allowed = frozenset(only_from)
    names = sorted(state.value for state in allowed)
    # One source compares with "=": usable in a statement run over many rows.
    guard = deliveries.c.state == names[0] if len(names) == 1 else deliveries.c.state.in_(names)
    return update(deliveries).where(guard, *where).values(state=to.value, **dict(values or {}))


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await conn.execute(deliveries.insert(), [dict(row) for row in rows])


async def insert_delivery(conn: AsyncConnection, row: Mapping[str, Any]) -> int:
    result = await conn.execute(deliveries.insert().values(**row).returning(deliveries.c.id))
    return int(result.scalar_one())


def _first_in_line() -> ColumnElement[bool]:
    """No earlier delivery of the same subject to the same endpoint still waiting (order kept)."""
    earlier = alias(deliveries, "earlier")
    return ~exists().where(
        earlier.c.endpoint_id == deliveries.c.endpoint_id,
        earlier.c.subject == deliveries.c.subject,
        earlier.c.id < deliveries.c.id,
        earlier.c.state.in_(UNSETTLED),
    )


def _due_kinds(now_ms: int) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Pending and due; claimed under a lease that ran out. Asked apart, each walks its own
    stretch of ``ix_webhook_deliveries_due``: one query with both (an OR) read the whole table,
    delivered rows included, on every claim, so claims got slower with every event delivered."""
    return (
        and_(deliveries.c.state == PENDING, deliveries.c.next_attempt_ms <= now_ms),
        and_(deliveries.c.state == DELIVERING, deliveries.c.lease_until_ms <= now_ms),
    )


async def claim(
    conn: AsyncConnection,
    *,
    now_ms: int,
    lease_until_ms: int,
    limit: int,
    ids: Collection[int] | None = None,
) -> list[RowMapping]:
    """Claim due deliveries (or only these ``ids``) for one attempt each, under a lease.

    Each row has the delivery's columns and its endpoint's ``url``, ``format`` and
    ``secret_sealed``. On PostgreSQL rows another process is claiming are skipped.
    """
    found: set[int] = set()
    for due in _due_kinds(now_ms):
        query = (
            select(deliveries.c.id)
            .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
            .where(due, _first_in_line(), endpoints.c.enabled == true())
            .order_by(deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=deliveries)
        )
        if ids is not None:
            query = query.where(deliveries.c.id.in_(sorted(ids)))
        found.update(int(row_id) for row_id in (await conn.execute(query)).scalars().all())
    chosen = sorted(found)[:limit]
    if not chosen:
        return []
    await conn.execute(
        _move(
            DeliveryState.DELIVERING,
            deliveries.c.id.in_(chosen),
            values={
                "attempts": deliveries.c.attempts + 1,
                "lease_until_ms": lease_until_ms,
                "last_attempt_ms": now_ms,
            },
        )
    )
    result = await conn.execute(
        select(deliveries, endpoints.c.url, endpoints.c.format, endpoints.c.secret_sealed)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.id.in_(chosen))
        .order_by(deliveries.c.id)
    )
    return list(result.mappings().all())


async def settle_many(
    conn: AsyncConnection,
    outcomes: Sequence[tuple[int, int, DeliveryState, Mapping[str, Any]]],
) -> None:
    """Record many attempts' outcomes ``(id, attempts, to, values)``: one statement run over
    the rows of each kind of outcome, instead of a statement built per delivery."""
    kinds: dict[tuple[DeliveryState, tuple[str, ...]], list[dict[str, Any]]] = {}
    for delivery_id, attempts, to, values in outcomes:
        names = tuple(sorted(values))
        params = {f"b_{name}": value for name, value in values.items()}
        kinds.setdefault((to, names), []).append(
            {**params, "b_id": delivery_id, "b_attempts": attempts}
        )
    for (to, names), rows in kinds.items():
        await conn.execute(
            _move(
                to,
                deliveries.c.id == bindparam("b_id"),
                deliveries.c.attempts == bindparam("b_attempts"),
                only_from=(DeliveryState.DELIVERING,),
                values={
                    **{name: bindparam(f"b_{name}") for name in names},
                    "lease_until_ms": None,
                },
            ),
            rows,
        )


async def next_due(conn: AsyncConnection, now_ms: int) -> int | None:
    """The earliest future moment a delivery becomes due (a retry, or a lease running out)."""
    retry = await conn.execute(
        select(func.min(deliveries.c.next_attempt_ms)).where(
            deliveries.c.state == PENDING, deliveries.c.next_attempt_ms > now_ms
        )
    )
    lease = await conn.execute(
        select(func.min(deliveries.c.lease_until_ms)).where(deliveries.c.state == DELIVERING)
    )
    moments = [value for value in (retry.scalar(), lease.scalar()) if value is not None]
    return int(min(moments)) if moments else None


async def list_deliveries(
    conn: AsyncConnection,
    account_id: int,
    endpoint_id: int,
    *,
    state: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[RowMapping]:
    """The endpoint's deliveries, newest first."""
    query = select(deliveries).where(
        deliveries.c.account_id == account_id, deliveries.c.endpoint_id == endpoint_id
    )
    if state is not None:
        query = query.where(deliveries.c.state == state)
    if before_id is not None:
        query = query.where(deliveries.c.id < before_id)
    result = await conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
    return result.mappings().all()


async def redeliver(
    conn: AsyncConnection,
    account_id: int,
    endpoint_id: int,
    *,
    delivery_id: int | None,
    now_ms: int,
    deadline_ms: int,
) -> list[int]:
    """Dead deliveries of the endpoint (or only ``delivery_id``) back to pending, due now,
    with a new retry window; returns their ids."""
    where = [deliveries.c.account_id == account_id, deliveries.c.endpoint_id == endpoint_id]
    if delivery_id is not None:
        where.append(deliveries.c.id == delivery_id)
    result = await conn.execute(
        _move(
            DeliveryState.PENDING,
            *where,
            only_from=(DeliveryState.DEAD,),
            values={"next_attempt_ms": now_ms, "deadline_ms": deadline_ms, "attempts": 0},
        ).returning(deliveries.c.id)
    )
    return sorted(int(row_id) for row_id in result.scalars().all())


async def get_delivery(
    conn: AsyncConnection, account_id: int, endpoint_id: int, delivery_id: int
) -> RowMapping | None:
    result = await conn.execute(
        select(deliveries).where(
            deliveries.c.account_id == account_id,
            deliveries.c.endpoint_id == endpoint_id,
            deliveries.c.id == delivery_id,
        )
    )
    return result.mappings().first()
