"""Devices: pairing, authenticating a connection, and what a device reports back."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from simgate import bus
from simgate.context import Context
from simgate.domain.errors import DeviceAuthError, InvalidParameter, NotFound
from simgate.domain.states import (
    MAX_AUTO_RETRIES,
    MessageState,
    check_transition,
    retry_delay,
)
from simgate.services import credentials
from simgate.store import accounts as account_store
from simgate.store import devices as device_store
from simgate.store import messages as message_store


@dataclass(frozen=True)
class Device:
    """A device as a live connection knows it."""

    id: int
    account_id: int
    sid: str
    label: str


@dataclass(frozen=True)
class Paired:
    sid: str
    token: str


def _device(row: RowMapping) -> Device:
    return Device(
        id=int(row["id"]),
        account_id=int(row["account_id"]),
        sid=str(row["sid"]),
        label=str(row["label"]),
    )


async def add_device(ctx: Context, account_email: str, label: str) -> Paired:
    """Pair a new device; its token is returned in clear only here."""
    token = credentials.new_device_token()
    sid = credentials.new_device_sid()
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, account_email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {account_email}.", parameter="account")
        await device_store.create(
            conn,
            int(account["id"]),
            sid=sid,
            label=label,
            token_prefix=token.prefix,
            token_digest=token.digest,
            now_ms=ctx.clock(),
        )
    return Paired(sid=sid, token=token.value)


async def new_token(ctx: Context, account_id: int, sid: str) -> str:
    """Re-pair an existing device: the old token stops working at once."""
    token = credentials.new_device_token()
    async with ctx.db.begin() as conn:
        row = await device_store.get(conn, account_id, sid)
        if row is None:
            raise NotFound(f"No device with SID {sid!r} in this account.")
        await device_store.replace_token(
            conn, account_id, int(row["id"]), prefix=token.prefix, digest=token.digest
        )
    return token.value


async def authenticate(ctx: Context, token: str) -> Device:
    candidate = credentials.digest(token.strip())
    async with ctx.db.connect() as conn:
        row = await device_store.by_token_digest(conn, candidate)
    if row is None or not credentials.same_digest(str(row["token_digest"]), candidate):
        raise DeviceAuthError("invalid device token")
    return _device(row)


@dataclass(frozen=True)
class Hello:
    version: str | None
    driver: str | None
    sims: list[int]
    capabilities: list[str]
    battery: int | None
    signal: int | None


async def record_hello(ctx: Context, device: Device, hello: Hello) -> None:
    async with ctx.db.begin() as conn:
        await device_store.record_hello(
            conn,
            device.id,
            version=hello.version,
            driver=hello.driver,
            sims=hello.sims,
            capabilities=hello.capabilities,
            battery=hello.battery,
            signal=hello.signal,
            now_ms=ctx.clock(),
        )


async def record_heartbeat(
    ctx: Context, device: Device, *, battery: int | None = None, signal: int | None = None
) -> None:
    async with ctx.db.begin() as conn:
        await device_store.touch(conn, device.id, ctx.clock(), battery=battery, signal=signal)


async def report_sent(ctx: Context, device: Device, guid: str, sim: int | None) -> bool:
    """The device's radio sent ``guid``. Idempotent: a repeated report changes nothing."""
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        row = await message_store.transition(
            conn,
            device.account_id,
            guid,
            from_states=(MessageState.DISPATCHED, MessageState.QUEUED),
            values={
                "state": MessageState.SENT.value,
                "sent_ms": now,
                "updated_ms": now,
                "sent_sim": sim,
                "device_id": device.id,
                "device_sid": device.sid,
                "lease_until_ms": None,
                "error_mobile": "",
            },
        )
    return row is not None


async def report_failed(
    ctx: Context, device: Device, guid: str, error: str, *, operator: bool
) -> MessageState | None:
    """The device could not send ``guid``.

    An operator error (network or SMSC refusal) is retried automatically with backoff, at most
    ``MAX_AUTO_RETRIES`` times; anything else, or the last retry, leaves the message failed
    with the device's error text. Returns the new state, or None if nothing changed.
    """
    now = ctx.clock()
    error = error.strip() or "send failed"
    async with ctx.db.begin() as conn:
        current = await message_store.get(conn, device.account_id, guid)
        if current is None:
            return None
        state = MessageState(current["state"])
        if state not in (MessageState.DISPATCHED, MessageState.QUEUED):
            return None
        retries = int(current["retries"])
        values: dict[str, object] = {"lease_until_ms": None, "updated_ms": now}
        if operator and retries < MAX_AUTO_RETRIES:
            new_state = MessageState.QUEUED
            values |= {
                "retries": retries + 1,
                "not_before_ms": now + int(retry_delay(retries + 1) * 1000),
                "device_id": None,
            }
        else:
            new_state = MessageState.FAILED
            values |= {
                "error_mobile": error[:500],
                "device_id": device.id,
                "device_sid": device.sid,
            }
        if new_state is not state:
            check_transition(state, new_state)
        values["state"] = new_state.value
        row = await message_store.transition(
            conn, device.account_id, guid, from_states=(state,), values=values
        )
    if row is None:
        return None
    if new_state is MessageState.QUEUED:
        ctx.bus.publish(bus.SCHEDULE, str(device.account_id))
    return new_state


def capabilities_of(row: RowMapping) -> list[str]:
    value = json.loads(str(row["capabilities"] or "[]"))
    return [str(item) for item in value] if isinstance(value, list) else []
