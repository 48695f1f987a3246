"""The dashboard's inbox: threads per number, a thread's messages both ways, mark read, reply.

The thread list holds the numbers that texted the account (an inbox, not a sent log), newest
first, each with its alias (set through ``/getsms/update/``), its unread count and its latest
text. A thread shows both directions oldest first, as a chat does, a page at a time from the
newest. A reply is an ordinary send (``services.messages.send``, the API's own path: opt-out
list, pacing, webhooks), to the thread's number only. A number with no SMS either way in this
account is a 404, the same answer whether another account has it or nobody does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy.engine import RowMapping

from simgate.context import Context
from simgate.domain.errors import NotFound, invalid
from simgate.services import inbox, messages
from simgate.services.messages import SendOutcome, SendRequest
from simgate.store import conversations as conversation_store
from simgate.store import threads as thread_store
from simgate.store.threads import Cursor

THREADS_PER_PAGE: Final = 25
MESSAGES_PER_PAGE: Final = 50
#: The longest number or sender name a thread can have (what a phone reports is short).
MAX_NUMBER_CHARS: Final = 64
#: What a preview shows of the latest SMS.
PREVIEW_CHARS: Final = 120
#: Digits of one part of a cursor: an epoch millisecond or a row id fits in 18.
MAX_CURSOR_DIGITS: Final = 18
#: The ``source`` of a message sent from the dashboard (the sent log tells it from the API's).
SOURCE: Final = "dashboard"


@dataclass(frozen=True)
class ThreadSummary:
    number: str
    alias: str | None
    last_ms: int
    received: int
    unread: int
    preview: str


@dataclass(frozen=True)
class ThreadList:
    threads: list[ThreadSummary]
    #: Where this page starts (None: the newest threads).
    before: str | None
    #: The cursor of the next page of older threads, None on the last page.
    older: str | None


@dataclass(frozen=True)
class ThreadMessage:
    direction: Literal["incoming", "outgoing"]
    guid: str
    at_ms: int
    text: str
    #: ``read`` or ``unread`` for a received SMS; the message's state for a sent one.
    status: str
    device_sid: str
    cursor: str


@dataclass(frozen=True)
class Thread:
    number: str
    alias: str | None
    unread: int
    #: Oldest first.
    messages: list[ThreadMessage]
    #: The cursor of the page of older messages, None at the start of the thread.
    older: str | None
    #: Whether the number ever texted the account (only then can it be named or marked read).
    texted: bool = True


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def checked_number(number: str) -> str:
    """A thread's number as the store keeps it; an empty or absurd one is a 404 (no thread)."""
    number = number.strip()
    if not number or len(number) > MAX_NUMBER_CHARS:
        raise NotFound("No conversation with this number.")
    return number


async def list_threads(ctx: Context, account_id: int, before: str | None = None) -> ThreadList:
    """One page of the account's threads, newest first: the first one, or the page of the
    threads older than the cursor ``before`` (from the previous page's ``older``)."""
    cursor = parse_cursor(before)
    if cursor is not None and cursor.side != thread_store.RECEIVED:
        raise invalid("before", "not a position in the inbox")
    async with ctx.db.connect() as conn:
        rows = await thread_store.thread_page(
            conn, account_id, before=cursor, limit=THREADS_PER_PAGE + 1
        )
        shown = rows[:THREADS_PER_PAGE]
        numbers = [str(row["number"]) for row in shown]
        counted = await thread_store.counts(conn, account_id, numbers)
        aliases = await conversation_store.aliases(conn, account_id, numbers) if numbers else {}
    summaries = []
    for row in shown:
        number = str(row["number"])
        received, unread = counted.get(number, (0, 0))
        summaries.append(
            ThreadSummary(
                number=number,
                alias=aliases.get(number),
                last_ms=int(row["at_ms"]),
                received=received,
                unread=unread,
                preview=_preview(str(row["text"])),
            )
        )
    last = shown[-1] if shown else None
    return ThreadList(
        threads=summaries,
        before=before or None,
        older=_cursor_text(int(last["at_ms"]), thread_store.RECEIVED, int(last["id"]))
        if last is not None and len(rows) > THREADS_PER_PAGE
        else None,
    )


def _cursor_text(at_ms: int, side: int, row_id: int) -> str:
    return f"{at_ms}.{side}.{row_id}"


def parse_cursor(value: str | None) -> Cursor | None:
    """A cursor from a page link; a malformed one is a 400 naming ``before``."""
    if not value:
        return None
    parts = value.split(".")
    if (
        len(parts) != len(("at_ms", "side", "id"))
        or not all(part.isdigit() and len(part) <= MAX_CURSOR_DIGITS for part in parts)
        or parts[1] not in ("0", "1")
    ):
        raise invalid("before", "not a position in this conversation")
    return Cursor(at_ms=int(parts[0]), side=int(parts[1]), id=int(parts[2]))


def _received(row: RowMapping) -> ThreadMessage:
    return ThreadMessage(
        direction="incoming",
        guid=str(row["guid"]),
        at_ms=int(row["at_ms"]),
        text=str(row["text"]),
        status="read" if row["read"] else "unread",
        device_sid=str(row["device_sid"]),
        cursor=_cursor_text(int(row["at_ms"]), thread_store.RECEIVED, int(row["id"])),
    )


def _sent(row: RowMapping) -> ThreadMessage:
    return ThreadMessage(
        direction="outgoing",
        guid=str(row["guid"]),
        at_ms=int(row["at_ms"]),
        text=str(row["text"]),
        status=str(row["state"]),
        device_sid="" if row["device_sid"] is None else str(row["device_sid"]),
        cursor=_cursor_text(int(row["at_ms"]), thread_store.SENT, int(row["id"])),
    )


async def get_thread(
    ctx: Context, account_id: int, number: str, before: str | None = None
) -> Thread:
    """The thread of ``number``: its newest page of messages, or the page before ``before``."""
    number = checked_number(number)
    cursor = parse_cursor(before)
    limit = MESSAGES_PER_PAGE
    async with ctx.db.connect() as conn:
        received = await thread_store.received_before(conn, account_id, number, cursor, limit + 1)
        sent = await thread_store.sent_before(conn, account_id, number, cursor, limit + 1)
        if cursor is None and not received and not sent:
            raise NotFound("No conversation with this number.")
        alias = await thread_store.alias(conn, account_id, number)
        unread = await thread_store.unread_of(conn, account_id, number)
        texted = bool(received) or bool(
            await thread_store.received_before(conn, account_id, number, None, 1)
        )
    merged = sorted(
        [((int(row["at_ms"]), thread_store.RECEIVED, int(row["id"])), row) for row in received]
        + [((int(row["at_ms"]), thread_store.SENT, int(row["id"])), row) for row in sent],
        key=lambda item: item[0],
        reverse=True,
    )
    page = [
        _received(row) if side == thread_store.RECEIVED else _sent(row)
        for (_, side, _), row in merged[:limit]
    ]
    older = page[-1].cursor if len(merged) > limit else None
    return Thread(
        number=number,
        alias=alias,
        unread=unread,
        messages=list(reversed(page)),
        older=older,
        texted=texted,
    )


async def mark_read(ctx: Context, account_id: int, number: str) -> int:
    """Mark the thread's received SMS read (as ``/getsms/set-read/`` does one by one); how many
    were unread. Marking a thread already read changes nothing."""
    number = checked_number(number)
    async with ctx.db.begin() as conn:
        changed = await thread_store.mark_read(conn, account_id, number)
        if not changed and not await thread_store.received_before(
            conn, account_id, number, None, 1
        ):
            raise NotFound("No conversation with this number.")
    return changed


async def name_number(ctx: Context, account_id: int, number: str, alias: str) -> str | None:
    """Name the thread's number: the alias goes on every SMS received from it, as
    ``/getsms/update/`` puts one on a single SMS (so ``/getsms/`` shows it too); a blank one
    clears it. The alias now in force."""
    number = checked_number(number)
    cleaned = alias.strip()
    if len(cleaned) > inbox.MAX_ALIAS_CHARS:
        raise invalid("alias", f"at most {inbox.MAX_ALIAS_CHARS} characters")
    async with ctx.db.begin() as conn:
        if not await thread_store.set_alias(conn, account_id, number, cleaned or None):
            raise NotFound("No conversation with this number.")
    return cleaned or None


async def reply(ctx: Context, account_id: int, number: str, text: str) -> SendOutcome:
    """Send ``text`` to the thread's number, as the API's ``/sendsms/`` would."""
    number = checked_number(number)
    async with ctx.db.connect() as conn:
        has_received = await thread_store.received_before(conn, account_id, number, None, 1)
        has_sent = has_received or await thread_store.sent_before(conn, account_id, number, None, 1)
    if not has_sent:
        raise NotFound("No conversation with this number.")
    return await messages.send(
        ctx, account_id, SendRequest(recipients=number, message=text, source=SOURCE)
    )
