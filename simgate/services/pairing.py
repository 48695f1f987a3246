"""Pairing a fleet: many devices of one account in one transaction.

A test bench, a benchmark or an operator bringing up a rack of modems pairs devices by the
hundred or the thousand; one transaction (and one executemany INSERT) for all of them takes a
fraction of a second where one transaction each would take minutes on SQLite, and either every
device of the batch exists afterwards or none does.
"""

from __future__ import annotations

from simgate.context import Context
from simgate.domain.errors import InvalidParameter, invalid
from simgate.services import credentials
from simgate.services.devices import MAX_LABEL, Pacing, Paired
from simgate.store import accounts as account_store
from simgate.store import devices as device_store

__all__ = ["MAX_BATCH", "add_devices"]

#: Most devices paired in one call: far more than one server process holds connected.
MAX_BATCH = 100_000


async def add_devices(
    ctx: Context, account_email: str, label: str, count: int, pacing: Pacing | None = None
) -> list[Paired]:
    """Pair ``count`` new devices labelled ``"<label> 1"`` … ``"<label> <count>"``.

    Their tokens are returned in clear only here, in label order.
    """
    if not 1 <= count <= MAX_BATCH:
        raise invalid("count", f"must be between 1 and {MAX_BATCH}")
    width = len(f"{label} {count}".strip())
    if width > MAX_LABEL:
        raise invalid("label", f"at most {MAX_LABEL} characters with its number")
    limits = (pacing or Pacing()).columns()
    tokens = [credentials.new_device_token() for _ in range(count)]
    items = [
        device_store.NewDevice(
            sid=credentials.new_device_sid(),
            label=f"{label} {number}".strip(),
            token_prefix=token.prefix,
            token_digest=token.digest,
        )
        for number, token in enumerate(tokens, start=1)
    ]
    async with ctx.db.begin() as conn:
        account = await account_store.by_email(conn, account_email.strip().lower())
        if account is None:
            raise InvalidParameter(f"No account with e-mail {account_email}.", parameter="account")
        await device_store.create_many(
            conn, int(account["id"]), items, now_ms=ctx.clock(), limits=limits
        )
    return [
        Paired(sid=item.sid, token=token.value) for item, token in zip(items, tokens, strict=True)
    ]
