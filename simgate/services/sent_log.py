"""The sent log as clients read and prune it: ``/log/sent/sms/`` and ``/deletesms/``.

Messages themselves (sending, resending, cancelling) are :mod:`simgate.services.messages`;
this module only reads their log and deletes from it by the client's selector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import NotFound, missing
from simgate.services.messages import SentMessage, sent_message
from simgate.store import inbox as inbox_store
from simgate.store import links as link_store
from simgate.store import sent_log as sent_log_store


@dataclass(frozen=True)
class LogQuery:
    guid: str | None = None
    before_guid: str | None = None
    before_ms: int | None = None
    error_api: bool = False
    error_mobile: bool = False
    keyword: str | None = None
    limit: int = 100


async def sent_log(ctx: Context, account_id: int, query: LogQuery) -> list[SentMessage]:
    """The account's sent messages, newest first, filtered and paged as the query says.

    Each one carries its ``shorturl_clicks``. A ``before_guid`` that is not this account's is a
    404: a cursor that does not exist cannot say where a page starts.
    """
    async with ctx.db.connect() as conn:
        before_id = None
        if query.before_guid is not None:
            before_id = await sent_log_store.id_of(conn, account_id, query.before_guid)
            if before_id is None:
                raise NotFound(f"No message with GUID {query.before_guid} in this account.")
        rows = await sent_log_store.list_log(
            conn,
            account_id,
            guid=query.guid,
            before_id=before_id,
            before_ms=query.before_ms,
            error_api=query.error_api,
            error_mobile=query.error_mobile,
            keyword=query.keyword,
            limit=query.limit,
        )
    return [sent_message(row) for row in rows]


@dataclass(frozen=True)
class DeleteQuery:
    """Either one GUID, or the days from ``first_day`` to ``last_day`` (inclusive)."""

    guid: str | None = None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class Deleted:
    sent: int
    received: int

    @property
    def total(self) -> int:
        return self.sent + self.received


async def delete_logged(ctx: Context, account_id: int, query: DeleteQuery) -> Deleted:
    """Delete sent and received SMS from the server log (never from the phones).

    By GUID (either kind; 404 when the account has no such message), or by the days the rows
    were logged, in the configured time zone. A sent message also loses its short links and
    its sealed text. There is deliberately no way to delete everything without a selector.
    """
    if query.guid is None and query.first_day is None:
        raise missing("guid_message")
    from_ms = to_ms = None
    if query.first_day is not None:
        last = query.last_day or query.first_day
        from_ms = timefmt.midnight_ms(query.first_day, ctx.settings.zone)
        to_ms = timefmt.midnight_ms(last + timedelta(days=1), ctx.settings.zone)
    async with ctx.db.begin() as conn:
        sent = await sent_log_store.delete_log(
            conn, account_id, guid=query.guid, from_ms=from_ms, to_ms=to_ms
        )
        await link_store.delete_for_messages(conn, account_id, sent)
        received = await inbox_store.delete_received(
            conn, account_id, guid=query.guid, from_ms=from_ms, to_ms=to_ms
        )
    if query.guid is not None and not sent and not received:
        raise NotFound(f"No message with GUID {query.guid} in this account.")
    return Deleted(sent=len(sent), received=received)


async def messages_by_guid(
    ctx: Context, account_id: int, guids: Sequence[str]
) -> list[SentMessage]:
    """The account's messages among ``guids``, newest first: another account's GUID is simply
    not there, exactly like an unknown one."""
    async with ctx.db.connect() as conn:
        rows = await sent_log_store.by_guids(conn, account_id, guids)
    return [sent_message(row) for row in rows]
