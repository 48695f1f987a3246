"""SMS conversations: received and sent SMS merged into one timeline per phone number.

The origin decides which numbers are conversations and in which order (``received``: numbers
that texted us, by their latest received SMS; ``sent``: numbers we texted, by the latest SMS
sent to them); each conversation then holds both directions, oldest first, as a chat shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Final, Literal, TypeAlias

from sqlalchemy.engine import RowMapping

from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import invalid
from simgate.services.inbox import sender_number
from simgate.services.mobile_sent import next_day
from simgate.store import conversations as conversation_store

Origin: TypeAlias = conversation_store.Origin
"""``received`` or ``sent``: which side of the traffic makes a number a conversation."""

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
#: Messages kept per conversation: the latest ones, also the most ``resume_line_how`` may ask.
MAX_MESSAGES: Final = 1000

Direction = Literal["incoming", "outgoing"]


@dataclass(frozen=True)
class ConversationQuery:
    """Parsed parameters. ``start``/``end`` are a day or a local date-time, both inclusive."""

    origin: Origin
    number: str | None = None
    start: date | datetime | None = None
    end: date | datetime | None = None
    ascending: bool = False
    limit: int = DEFAULT_LIMIT
    resume_lines: int | None = None
    """None: every message (up to ``MAX_MESSAGES``); n: only the latest n of each."""


@dataclass(frozen=True)
class ConversationMessage:
    direction: Direction
    guid: str
    at_ms: int
    text: str
    status: str
    device_sid: str


@dataclass(frozen=True)
class Conversation:
    number: str
    alias: str | None
    messages: list[ConversationMessage]


def _start_ms(value: date | datetime, zone: tzinfo) -> int:
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=zone).timestamp() * 1000)
    return timefmt.midnight_ms(value, zone)


def _end_ms(value: date | datetime, zone: tzinfo) -> int:
    """The first millisecond after ``value``: a day ends at midnight, a date-time a second on."""
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=zone).timestamp() * 1000) + 1000
    return timefmt.midnight_ms(next_day(value, "date_to"), zone)


def _range(query: ConversationQuery, zone: tzinfo) -> tuple[int | None, int | None]:
    start = None if query.start is None else _start_ms(query.start, zone)
    end = None if query.end is None else _end_ms(query.end, zone)
    if start is not None and end is not None and start >= end:
        raise invalid("date_to", "must not be before date_from")
    return start, end


def _incoming(row: RowMapping) -> ConversationMessage:
    return ConversationMessage(
        direction="incoming",
        guid=str(row["guid"]),
        at_ms=int(row["at_ms"]),
        text=str(row["text"]),
        status="received",
        device_sid=str(row["device_sid"]),
    )


def _outgoing(row: RowMapping) -> ConversationMessage:
    return ConversationMessage(
        direction="outgoing",
        guid=str(row["guid"]),
        at_ms=int(row["at_ms"]),
        text=str(row["text"]),
        status=str(row["state"]),
        device_sid="" if row["device_sid"] is None else str(row["device_sid"]),
    )


def _timeline(
    incoming: list[tuple[int, ConversationMessage]],
    outgoing: list[tuple[int, ConversationMessage]],
    keep: int,
) -> list[ConversationMessage]:
    """Both directions, oldest first; at the same millisecond, what came in before the answer."""
    merged = sorted(
        [(message.at_ms, 0, row_id, message) for row_id, message in incoming]
        + [(message.at_ms, 1, row_id, message) for row_id, message in outgoing],
        key=lambda item: item[:3],
    )
    return [item[3] for item in merged[-keep:]]


async def list_conversations(
    ctx: Context, account_id: int, query: ConversationQuery, *, region: str | None = None
) -> list[Conversation]:
    """The account's conversations as the query selects them (see the module docstring).

    With a number, only that number's conversation (or none, when it has no SMS on the origin
    side in the range); without one, the ``limit`` latest (or, ascending, oldest) conversations.
    Date limits apply to the numbers chosen and to the messages shown alike. The number is
    read in ``region`` (the account's; None: the server's default).
    """
    zone = ctx.settings.zone
    start, end = _range(query, zone)
    number = (
        None
        if query.number is None
        else sender_number(query.number, region or ctx.settings.default_region)
    )
    keep = query.resume_lines or MAX_MESSAGES
    async with ctx.db.connect() as conn:
        numbers = await conversation_store.latest_numbers(
            conn,
            account_id,
            origin=query.origin,
            number=number,
            from_ms=start,
            to_ms=end,
            ascending=query.ascending,
            limit=None if number is not None else query.limit,
        )
        if not numbers:
            return []
        received = await conversation_store.incoming(
            conn, account_id, numbers, from_ms=start, to_ms=end, per_number=keep
        )
        sent = await conversation_store.outgoing(
            conn, account_id, numbers, from_ms=start, to_ms=end, per_number=keep
        )
        aliases = await conversation_store.aliases(conn, account_id, numbers)
    incoming: dict[str, list[tuple[int, ConversationMessage]]] = {n: [] for n in numbers}
    outgoing: dict[str, list[tuple[int, ConversationMessage]]] = {n: [] for n in numbers}
    for row in received:
        incoming[str(row["number"])].append((int(row["id"]), _incoming(row)))
    for row in sent:
        outgoing[str(row["number"])].append((int(row["id"]), _outgoing(row)))
    return [
        Conversation(
            number=n,
            alias=aliases.get(n),
            messages=_timeline(incoming[n], outgoing[n], keep),
        )
        for n in numbers
    ]
