"""The dashboard's Sent page and message page: filtered, paged lists and one message's story.

Paging is by keyset (``before``: the GUID of the last message of the previous page), so a page
costs the same on the first or the thousandth page and never skips or repeats a message while
new ones arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from simgate.context import Context
from simgate.domain import timefmt
from simgate.domain.errors import InvalidParameter, NotFound, invalid
from simgate.domain.recipients import normalize_number
from simgate.domain.states import MessageState
from simgate.services.messages import SentMessage, sent_message
from simgate.store import messages as message_store
from simgate.store import sent_log as sent_log_store

#: Messages on one page of the Sent list.
PAGE_SIZE = 50
#: States in which a message may still change without anyone acting (the pages poll them).
PENDING_STATES = frozenset({"scheduled", "queued", "dispatched"})


@dataclass(frozen=True)
class SentFilter:
    """The Sent page's filters; empty strings and None mean "any"."""

    status: str = ""
    device: str = ""
    number: str = ""
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None
    before: str = ""


@dataclass(frozen=True)
class SentPage:
    items: list[SentMessage]
    #: The ``before`` of the next (older) page, or None on the last page.
    next_before: str | None

    @property
    def pending(self) -> bool:
        return any(item.state in PENDING_STATES for item in self.items)


async def sent_page(
    ctx: Context, account_id: int, query: SentFilter, limit: int = PAGE_SIZE
) -> SentPage:
    """One page of the account's sent messages matching ``query``, newest first."""
    status = query.status.strip().lower() or None
    if status is not None and status not in {state.value for state in MessageState}:
        raise invalid("status", "not a message state")
    number = query.number.strip()
    exact = None
    if number.startswith("+") or len(number) >= 8:  # noqa: PLR2004 - a full number, not a part
        try:
            exact = normalize_number(number, ctx.settings.default_region)
        except InvalidParameter:
            exact = None
    zone = ctx.settings.zone
    async with ctx.db.connect() as conn:
        before_id = None
        if query.before:
            before_id = await sent_log_store.id_of(conn, account_id, query.before)
            if before_id is None:
                raise NotFound("No such page of messages.")
        rows = await sent_log_store.search(
            conn,
            account_id,
            state=status,
            device_sid=query.device.strip() or None,
            number=exact,
            number_part=number if number and exact is None else None,
            text_part=query.text.strip() or None,
            from_ms=None if query.date_from is None else timefmt.midnight_ms(query.date_from, zone),
            to_ms=(
                None
                if query.date_to is None
                else timefmt.midnight_ms(query.date_to + timedelta(days=1), zone)
            ),
            before_id=before_id,
            limit=limit + 1,
        )
    items = [sent_message(row) for row in rows[:limit]]
    more = len(rows) > limit
    return SentPage(items=items, next_before=items[-1].guid if more and items else None)


@dataclass(frozen=True)
class Step:
    """One moment of a message's life: what happened, when, and the state it left it in."""

    at_ms: int
    what: str
    state: str


@dataclass(frozen=True)
class MessageStory:
    message: SentMessage
    steps: list[Step]

    @property
    def pending(self) -> bool:
        return self.message.state in PENDING_STATES

    @property
    def can_resend(self) -> bool:
        return self.message.state == MessageState.FAILED.value

    @property
    def can_cancel(self) -> bool:
        return self.message.state in {MessageState.SCHEDULED.value, MessageState.QUEUED.value}


def steps_of(message: SentMessage, *, dispatched_ms: int | None, updated_ms: int) -> list[Step]:
    """The state changes a message row records, in time order.

    A row keeps the time of each stage of its latest attempt (accepted, handed to a phone,
    sent, delivered) and of its last change (failed, expired, cancelled); ``retries`` says how
    many automatic retries came before.
    """
    first = (
        "scheduled"
        if message.schedule_ms and message.schedule_ms > message.created_ms
        else "queued"
    )
    steps = [Step(message.created_ms, "Accepted", first)]
    if first == "scheduled" and message.schedule_ms is not None:
        steps.append(Step(message.schedule_ms, "Due (scheduled time)", "queued"))
    if dispatched_ms is not None:
        phone = f" {message.device_sid}" if message.device_sid else ""
        steps.append(Step(dispatched_ms, f"Handed to phone{phone}", "dispatched"))
    if message.sent_ms is not None:
        sim = f" from SIM {message.sent_sim}" if message.sent_sim else ""
        steps.append(Step(message.sent_ms, f"Sent{sim}", "sent"))
    if message.delivered_ms is not None:
        steps.append(Step(message.delivered_ms, "Delivered to the recipient's phone", "sent"))
    if message.state in {"failed", "expired", "cancelled"}:
        why = message.error_mobile or message.error_api
        label = {"failed": "Failed", "expired": "Expired", "cancelled": "Cancelled"}
        steps.append(
            Step(updated_ms, label[message.state] + (f": {why}" if why else ""), message.state)
        )
    return sorted(steps, key=lambda step: step.at_ms)


async def message_story(ctx: Context, account_id: int, guid: str) -> MessageStory:
    """One message of the account with its steps; another account's GUID is a 404 exactly
    like an unknown one."""
    async with ctx.db.connect() as conn:
        row = await message_store.get(conn, account_id, guid)
    if row is None:
        raise NotFound("No such message.")
    message = sent_message(row)
    dispatched = row["dispatched_ms"]
    return MessageStory(
        message=message,
        steps=steps_of(
            message,
            dispatched_ms=None if dispatched is None else int(dispatched),
            updated_ms=int(row["updated_ms"]),
        ),
    )
