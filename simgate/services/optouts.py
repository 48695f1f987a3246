"""The opt-out list: numbers an account's messages must not go to, unless forced.

A number gets on the list when it texts a stop keyword to one of the account's phones (see
:func:`simgate.services.inbox.record_received`), or by hand (``simgate optout add``); it gets off
with a start keyword or ``simgate optout remove``. ``/sendsms/`` stores a message to a listed
number as failed with ``error_api = "opted_out"`` unless the request says ``force_optout=1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from simgate.context import Context
from simgate.domain.errors import InvalidParameter
from simgate.services.accounts import account_id_by_email
from simgate.services.inbox import sender_number
from simgate.store import optouts as optout_store


@dataclass(frozen=True)
class OptOut:
    """One number on an account's list; ``source`` says what put it there ("keyword", "cli")."""

    number: str
    source: str
    created_ms: int


@dataclass(frozen=True)
class OptOutChange:
    """The number as stored, and whether the call changed the list."""

    number: str
    changed: bool


def _opt_out(row: RowMapping) -> OptOut:
    return OptOut(number=row["number"], source=row["source"], created_ms=int(row["created_ms"]))


async def account_of(ctx: Context, email: str) -> int:
    """The id of the account with this e-mail; a 400 naming ``account`` when there is none."""
    account_id = await account_id_by_email(ctx, email)
    if account_id is None:
        raise InvalidParameter(f"No account with e-mail {email}.", parameter="account")
    return account_id


async def _number(ctx: Context, account_id: int, raw: str) -> str:
    """``raw`` as the inbox stores a sender (read in the account's region), so a hand-made
    entry matches a keyword's."""
    number = sender_number(raw, await ctx.regions.of(account_id))
    if not number:
        raise InvalidParameter("The number is empty.", parameter="number")
    return number


async def list_opt_outs(ctx: Context, account_id: int) -> list[OptOut]:
    """The account's opted-out numbers, oldest first."""
    async with ctx.db.connect() as conn:
        rows = await optout_store.list_for_account(conn, account_id)
    return [_opt_out(row) for row in rows]


async def add(ctx: Context, account_id: int, number: str, source: str = "cli") -> OptOutChange:
    """Put a number on the account's list (a number already there stays as it was)."""
    stored = await _number(ctx, account_id, number)
    async with ctx.db.begin() as conn:
        added = await optout_store.add(
            conn, account_id, stored, source=source, created_ms=ctx.clock()
        )
    return OptOutChange(number=stored, changed=added)


async def remove(ctx: Context, account_id: int, number: str) -> OptOutChange:
    """Take a number off the account's list; ``changed`` is False when it was not on it."""
    stored = await _number(ctx, account_id, number)
    async with ctx.db.begin() as conn:
        removed = await optout_store.remove(conn, account_id, stored)
    return OptOutChange(number=stored, changed=removed)
