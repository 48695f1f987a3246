"""Devices (phones and modems) of an account."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.states import MessageState
from simgate.store._sql import like_pattern
from simgate.store.tables import devices, inbox, messages, mobile_sent


async def create(
    conn: AsyncConnection,
    account_id: int,
    *,
    sid: str,
    label: str,
    token_prefix: str,
    token_digest: str,
    now_ms: int,
    phone_number: str = "",
    limits: Mapping[str, int | None] | None = None,
) -> int:
    result = await conn.execute(
        devices.insert()
        .values(
            account_id=account_id,
            sid=sid,
            label=label,
            phone_number=phone_number,
            token_prefix=token_prefix,
            token_digest=token_digest,
            created_ms=now_ms,
            sims="[]",
            capabilities="[]",
            **dict(limits or {}),
        )
        .returning(devices.c.id)
    )
    return int(result.scalar_one())


@dataclass(frozen=True, slots=True)
class NewDevice:
    """One device of a batch to pair (:func:`create_many`)."""

    sid: str
    label: str
    token_prefix: str
    token_digest: str


async def create_many(
    conn: AsyncConnection,
    account_id: int,
    items: Sequence[NewDevice],
    *,
    now_ms: int,
    limits: Mapping[str, int | None] | None = None,
) -> None:
    """Insert a batch of devices in one executemany statement (pairing a fleet of phones)."""
    if not items:
        return
    common = {
        "account_id": account_id,
        "phone_number": "",
        "created_ms": now_ms,
        "sims": "[]",
        "capabilities": "[]",
        **dict(limits or {}),
    }
    await conn.execute(
        devices.insert(),
        [
            {
                **common,
                "sid": item.sid,
                "label": item.label,
                "token_prefix": item.token_prefix,
                "token_digest": item.token_digest,
            }
            for item in items
        ],
    )


# The statements of a phone's connection, built once (they keep their SQLAlchemy cache keys):
# after a restart every phone reconnects at once.
_BY_TOKEN_DIGEST = select(devices).where(devices.c.token_digest == bindparam("b_digest"))
_HELLO = (
    update(devices)
    .where(devices.c.id == bindparam("b_id"))
    .values(
        version=bindparam("b_version"),
        driver=bindparam("b_driver"),
        sims=bindparam("b_sims"),
        capabilities=bindparam("b_capabilities"),
        battery=bindparam("b_battery"),
        signal=bindparam("b_signal"),
        charging=bindparam("b_charging"),
        reported_rate_count=bindparam("b_rate_count"),
        reported_rate_seconds=bindparam("b_rate_seconds"),
        last_seen_ms=bindparam("b_now"),
        online_since_ms=bindparam("b_now"),
        offline_since_ms=None,
    )
)
_OFFLINE = (
    update(devices)
    .where(devices.c.id == bindparam("b_id"))
    .values(offline_since_ms=bindparam("b_now"))
)


async def by_token_digest(conn: AsyncConnection, digest: str) -> RowMapping | None:
    result = await conn.execute(_BY_TOKEN_DIGEST, {"b_digest": digest})
    return result.mappings().first()


async def by_id(conn: AsyncConnection, device_id: int) -> RowMapping | None:
    result = await conn.execute(select(devices).where(devices.c.id == device_id))
    return result.mappings().first()


async def by_sid(conn: AsyncConnection, sid: str) -> RowMapping | None:
    """Any account's device by SID: for the operator's CLI only, never for an API caller."""
    result = await conn.execute(select(devices).where(devices.c.sid == sid))
    return result.mappings().first()


async def get(conn: AsyncConnection, account_id: int, sid: str) -> RowMapping | None:
    result = await conn.execute(
        select(devices).where(devices.c.account_id == account_id, devices.c.sid == sid)
    )
    return result.mappings().first()


async def by_label(conn: AsyncConnection, account_id: int, label: str) -> RowMapping | None:
    result = await conn.execute(
        select(devices)
        .where(devices.c.account_id == account_id, devices.c.label == label)
        .order_by(devices.c.id)
    )
    return result.mappings().first()


async def list_for_account(
    conn: AsyncConnection, account_id: int, *, sid: str | None = None, search: str | None = None
) -> Sequence[RowMapping]:
    query = select(devices).where(devices.c.account_id == account_id)
    if sid is not None:
        query = query.where(devices.c.sid == sid)
    if search:
        like = like_pattern(search)
        query = query.where(
            or_(
                devices.c.sid.ilike(like, escape="\\"),
                devices.c.label.ilike(like, escape="\\"),
                devices.c.phone_number.ilike(like, escape="\\"),
                devices.c.version.ilike(like, escape="\\"),
                devices.c.driver.ilike(like, escape="\\"),
            )
        )
    result = await conn.execute(query.order_by(devices.c.id))
    return result.mappings().all()


async def record_hello(
    conn: AsyncConnection,
    device_id: int,
    *,
    version: str | None,
    driver: str | None,
    sims: list[int],
    capabilities: list[str],
    battery: int | None,
    signal: int | None,
    charging: bool | None,
    rate_count: int | None,
    rate_seconds: int | None,
    now_ms: int,
) -> None:
    """A connection said hello: what the device is, and since when it is online."""
    await conn.execute(
        _HELLO,
        {
            "b_id": device_id,
            "b_version": version,
            "b_driver": driver,
            "b_sims": json.dumps(sims),
            "b_capabilities": json.dumps(capabilities),
            "b_battery": battery,
            "b_signal": signal,
            "b_charging": charging,
            "b_rate_count": rate_count,
            "b_rate_seconds": rate_seconds,
            "b_now": now_ms,
        },
    )


async def record_offline(conn: AsyncConnection, device_id: int, now_ms: int) -> None:
    """The device's connection ended."""
    await conn.execute(_OFFLINE, {"b_id": device_id, "b_now": now_ms})


@dataclass(frozen=True, slots=True)
class Beat:
    """What a device's frames said since the last write: when it was last heard, and its
    battery, signal and charging state where a ``status`` frame told them (None: unchanged)."""

    device_id: int
    seen_ms: int
    battery: int | None = None
    signal: int | None = None
    charging: bool | None = None


async def touch_many(conn: AsyncConnection, beats: Sequence[Beat]) -> None:
    """Write many devices' heartbeats in one executemany UPDATE.

    ``last_seen_ms`` only moves forward (a beat collected before a reconnection must not undo
    the newer time its ``hello`` wrote), and a None battery, signal or charging keeps the stored
    value, so every row binds the same parameters and the batch is one statement.
    """
    if not beats:
        return
    # Typed: PostgreSQL cannot infer a parameter's type inside CASE or COALESCE.
    seen = bindparam("b_seen", type_=devices.c.last_seen_ms.type)
    statement = (
        update(devices)
        .where(devices.c.id == bindparam("b_id", type_=devices.c.id.type))
        .values(
            last_seen_ms=case(
                (devices.c.last_seen_ms.is_(None), seen),
                (devices.c.last_seen_ms < seen, seen),
                else_=devices.c.last_seen_ms,
            ),
            battery=func.coalesce(
                bindparam("b_battery", type_=devices.c.battery.type), devices.c.battery
            ),
            signal=func.coalesce(
                bindparam("b_signal", type_=devices.c.signal.type), devices.c.signal
            ),
            charging=func.coalesce(
                bindparam("b_charging", type_=devices.c.charging.type), devices.c.charging
            ),
        )
    )
    await conn.execute(
        statement,
        [
            {
                "b_id": beat.device_id,
                "b_seen": beat.seen_ms,
                "b_battery": beat.battery,
                "b_signal": beat.signal,
                "b_charging": beat.charging,
            }
            for beat in beats
        ],
    )


async def change(
    conn: AsyncConnection,
    account_id: int,
    sid: str,
    values: Mapping[str, object],
) -> RowMapping | None:
    """Set the given columns of a device of this account; the updated row, or None.

    With nothing to change it still answers the row (and None for an unknown SID).
    """
    statement = update(devices).where(devices.c.account_id == account_id, devices.c.sid == sid)
    statement = statement.values(**dict(values) if values else {"sid": devices.c.sid})
    result = await conn.execute(statement.returning(devices))
    row: RowMapping | None = result.mappings().first()
    return row


async def replace_token(
    conn: AsyncConnection, account_id: int, device_id: int, *, prefix: str, digest: str
) -> None:
    await conn.execute(
        update(devices)
        .where(devices.c.account_id == account_id, devices.c.id == device_id)
        .values(token_prefix=prefix, token_digest=digest)
    )


async def delete_one(conn: AsyncConnection, account_id: int, sid: str) -> int | None:
    """Delete the device; returns its id, or None when the account has no such device."""
    result = await conn.execute(
        delete(devices)
        .where(devices.c.account_id == account_id, devices.c.sid == sid)
        .returning(devices.c.id)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


# ---------------------------------------------------------------------------------------------
# A device's traffic: what it did today, and what goes with it when it is removed. These touch
# the messages, inbox and mobile_sent tables, always scoped by account and keyed by device.


async def sent_counts_since(
    conn: AsyncConnection, account_id: int, since_ms: int
) -> dict[int, int]:
    """Messages each device of the account has sent since ``since_ms``, by device id.

    One grouped query for the whole account, however many devices it has.
    """
    result = await conn.execute(
        select(messages.c.device_id, func.count())
        .where(
            messages.c.account_id == account_id,
            messages.c.state == MessageState.SENT.value,
            messages.c.sent_ms >= since_ms,
            messages.c.device_id.is_not(None),
        )
        .group_by(messages.c.device_id)
    )
    return {int(device_id): int(count) for device_id, count in result.all()}


async def received_counts_since(
    conn: AsyncConnection, account_id: int, since_ms: int
) -> dict[int, int]:
    """SMS each device of the account has received since ``since_ms`` (phone time), by device id."""
    result = await conn.execute(
        select(inbox.c.device_id, func.count())
        .where(
            inbox.c.account_id == account_id,
            inbox.c.received_ms >= since_ms,
            inbox.c.device_id.is_not(None),
        )
        .group_by(inbox.c.device_id)
    )
    return {int(device_id): int(count) for device_id, count in result.all()}


async def delete_history(
    conn: AsyncConnection, account_id: int, device_id: int, sid: str
) -> tuple[int, int]:
    """Delete the SMS the device received and those its user sent from the phone itself.

    The foreign keys cascade as well when the device row goes; deleting explicitly first gives
    exact counts and also takes rows that carry the SID without a device link. Returns
    ``(received, mobile_sent)``.
    """
    received = await conn.execute(
        delete(inbox).where(
            inbox.c.account_id == account_id,
            or_(inbox.c.device_id == device_id, inbox.c.device_sid == sid),
        )
    )
    from_phone = await conn.execute(
        delete(mobile_sent).where(
            mobile_sent.c.account_id == account_id,
            or_(mobile_sent.c.device_id == device_id, mobile_sent.c.device_sid == sid),
        )
    )
    return received.rowcount, from_phone.rowcount
