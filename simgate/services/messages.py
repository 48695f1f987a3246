"""Sending messages, resending failed ones, cancelling waiting ones, and reading or pruning the
sent log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate import bus
from simgate.context import Context
from simgate.domain import expiry
from simgate.domain.channels import Channel
from simgate.domain.errors import NotFound, StateConflict, invalid, missing
from simgate.domain.recipients import Recipient, parse_recipients
from simgate.domain.segments import MAX_MESSAGE_CHARS
from simgate.domain.states import MessageState, check_transition
from simgate.services import drafts as drafting
from simgate.services import sealing, webhook_events
from simgate.services.devices import capabilities_of, sims_of
from simgate.store import devices as device_store
from simgate.store import groupcommit
from simgate.store import links as link_store
from simgate.store import messages as message_store
from simgate.store import optouts as optout_store

WHATSAPP_CAPABILITY = "whatsapp"
#: ``error_api`` of a message to a number on the account's opt-out list (see services/optouts).
OPTED_OUT: Final = "opted_out"


@dataclass(frozen=True)
class SendRequest:
    """One call to send: already parsed from whatever protocol carried it."""

    recipients: str
    message: str
    port: int | None = None
    sid: str | None = None
    channel: Channel = "sms"
    schedule_ms: int | None = None
    shorturl: bool = False
    encrypt: bool = False
    source: str = "api"
    #: Seconds a phone has to take the message before it expires; None: the server's setting.
    ttl_seconds: int | None = None
    #: Send to numbers on the opt-out list too (``force_optout=1``), for messages they still
    #: need (a one-time code, an order they placed).
    force_optout: bool = False
    #: Where numbers without + are read (the account's region); None: the server's default.
    region: str | None = None


@dataclass(frozen=True)
class Accepted:
    """One stored message, as the caller needs it to answer.

    ``state`` is ``failed`` (and ``error`` says why) for a message refused at once, such as a
    WhatsApp message with no WhatsApp-capable device; ``sealed_url`` is its ``/e/`` link.
    """

    guid: str
    recipient: str
    parts: int
    encoding: str
    port: int | None
    channel: Channel
    schedule_ms: int | None
    state: str = MessageState.QUEUED.value
    error: str = ""
    sealed_url: str | None = None


@dataclass(frozen=True)
class SendOutcome:
    """The accepted messages, one per valid recipient, and the recipients refused.

    ``passphrase`` is set for an encrypted send: the only copy, for the sender's eyes once.
    """

    accepted: list[Accepted]
    rejected: list[Recipient] = field(default_factory=list)
    created_ms: int = 0
    passphrase: str | None = None

    @property
    def failed(self) -> list[Accepted]:
        return [item for item in self.accepted if item.state == MessageState.FAILED.value]


@dataclass(frozen=True)
class SentMessage:
    """One message of the sent log, as adapters read it (never the database row itself).

    ``shorturl_clicks`` is the total of the message's short links where the read counts them
    (the sent log), and None where it does not (the answer of a resend).
    """

    guid: str
    recipient: str
    text: str
    state: str
    channel: str
    port: int | None
    parts: int
    encoding: str
    created_ms: int
    schedule_ms: int | None
    sent_ms: int | None
    device_sid: str | None
    sent_sim: int | None
    error_api: str
    error_mobile: str
    retries: int
    encrypted: bool
    shorturl_clicks: int | None = None
    delivered_ms: int | None = None


def sent_message(row: RowMapping) -> SentMessage:
    """A message row as adapters read it (services hand dataclasses up, never rows)."""
    clicks = row.get("shorturl_clicks")
    return SentMessage(
        guid=row["guid"],
        recipient=row["recipient"],
        text=row["text"],
        state=row["state"],
        channel=row["channel"],
        port=row["port"],
        parts=int(row["parts"]),
        encoding=row["encoding"],
        created_ms=int(row["created_ms"]),
        schedule_ms=row["schedule_ms"],
        sent_ms=row["sent_ms"],
        device_sid=row["device_sid"],
        sent_sim=row["sent_sim"],
        error_api=row["error_api"],
        error_mobile=row["error_mobile"],
        retries=int(row["retries"]),
        encrypted=bool(row["encrypted"]),
        shorturl_clicks=None if clicks is None else int(clicks),
        delivered_ms=row.get("delivered_ms"),
    )


class SendGuard(Protocol):
    """What runs inside a send's transaction around the messages (see services/idempotency).

    ``claim`` runs first, before anything is read or written, and may raise to stop the send;
    ``record`` runs last, with the outcome about to be committed together with the messages.
    """

    async def claim(self, conn: AsyncConnection) -> None: ...

    async def record(self, conn: AsyncConnection, outcome: SendOutcome) -> None: ...


async def send(
    ctx: Context, account_id: int, request: SendRequest, guard: SendGuard | None = None
) -> SendOutcome:
    """Validate, store one message per recipient, and wake the dispatcher.

    The call returns once the rows are committed: from then on a crash loses nothing. Invalid
    recipients are reported back beside the accepted ones; if none is valid, nothing is stored.
    Short links and sealing rewrite the text *before* it is stored and its SMS parts counted,
    so the stored text is exactly what the radio sends. A message to a number on the account's
    opt-out list is stored as failed (``opted_out``) unless ``request.force_optout``; the list
    is read in one query for all recipients.
    """
    text = request.message
    if not text.strip():
        raise missing("message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid("message", f"at most {MAX_MESSAGE_CHARS} characters")
    recipients = parse_recipients(
        request.recipients,
        request.region or ctx.settings.default_region,
        ctx.settings.max_recipients,
    )
    valid = [recipient.e164 for recipient in recipients if recipient.e164 is not None]
    rejected = [recipient for recipient in recipients if not recipient.ok]
    if not valid:
        first = rejected[0]
        raise invalid("recipients", f"{first.raw!r}: {first.error}")
    passphrase = sealing.new_passphrase() if request.encrypt else None
    key = None if passphrase is None else await sealing.new_key(passphrase)

    now = ctx.clock()
    scheduled = request.schedule_ms is not None and request.schedule_ms > now
    not_before = request.schedule_ms if scheduled and request.schedule_ms is not None else now
    # The TTL counts from the moment the message may first go out: its schedule, else now.
    ttl = request.ttl_seconds or ctx.settings.message_ttl_seconds
    job = _SendJob(
        ctx=ctx,
        account_id=account_id,
        request=request,
        guard=guard,
        valid=valid,
        rejected=rejected,
        passphrase=passphrase,
        key=key,
        base_url=ctx.settings.public_base_url,
        now=now,
        scheduled=scheduled,
        not_before=not_before,
        expires=expiry.expires_at(not_before, ttl),
    )
    # Concurrent sends share a transaction (group commit): each returns after its commit.
    if guard is None:
        outcome = await ctx.db.together(_store_sends, job)
    else:
        outcome = await ctx.db.together(_store_guarded_each, job)
    if any(not item.error for item in outcome.accepted):
        ctx.bus.publish(bus.SCHEDULE if scheduled else bus.WORK, str(account_id))
    return outcome


@dataclass(frozen=True)
class _SendJob:
    """A validated send, ready to be stored in a transaction shared with others."""

    ctx: Context
    account_id: int
    request: SendRequest
    guard: SendGuard | None
    valid: list[str]
    rejected: list[Recipient]
    passphrase: str | None
    key: sealing.SealingKey | None
    base_url: str
    now: int
    scheduled: bool
    not_before: int
    expires: int


@dataclass
class _Staged:
    """A send of a batch, its messages built, waiting for the batch's shared writes."""

    job: _SendJob
    drafts: list[drafting.Draft]
    rows: list[dict[str, Any]]
    outcome: SendOutcome


async def _store_sends(conn: AsyncConnection, jobs: Sequence[_SendJob]) -> list[SendOutcome]:
    """Store a batch of sends in the open transaction, in a fixed handful of statements.

    What could refuse one send (an unknown device, a WhatsApp message with nowhere to go) is
    checked per send first and names that send (``ItemFailed``): the group commit leaves it
    out and runs the rest again. The opt-out lists are read once per account for every
    recipient of the batch, and all messages are inserted together: a burst of single-recipient
    requests costs about as many statements as one request.
    """
    opted = await _opted_out(conn, jobs)
    staged: list[_Staged] = []
    for index, job in enumerate(jobs):
        try:
            staged.append(await _stage(conn, job, opted.get(job.account_id, set())))
        except Exception as exc:
            raise groupcommit.ItemFailed(index, exc) from exc
    await _write(conn, staged)
    return [item.outcome for item in staged]


async def _opted_out(conn: AsyncConnection, jobs: Sequence[_SendJob]) -> dict[int, set[str]]:
    """Per account, which recipients of ``jobs`` are on its opt-out list: one read each."""
    by_account: dict[int, set[str]] = {}
    for job in jobs:
        if not job.request.force_optout:
            by_account.setdefault(job.account_id, set()).update(job.valid)
    return {
        account_id: await optout_store.opted_out(conn, account_id, sorted(numbers))
        for account_id, numbers in by_account.items()
    }


async def _write(conn: AsyncConnection, staged: Sequence[_Staged]) -> None:
    """The staged sends' messages, events, short links and sealed texts, each kind at once."""
    rows = [row for item in staged for row in item.rows]
    await message_store.insert_many(conn, rows)
    for account_id in {item.job.account_id for item in staged}:
        mine = [row for row in rows if row["account_id"] == account_id]
        await webhook_events.submitted(staged[0].job.ctx, conn, account_id, mine)
    link_rows = [
        row
        for item in staged
        for row in drafting.link_rows(item.drafts, item.job.account_id, item.job.now)
    ]
    sealed_rows = [
        row
        for item in staged
        for row in drafting.sealed_rows(item.drafts, item.job.account_id, item.job.now)
    ]
    await link_store.insert_links(conn, link_rows)
    await link_store.insert_sealed(conn, sealed_rows)


async def _stage(conn: AsyncConnection, job: _SendJob, opted: set[str]) -> _Staged:
    """One send's checks and messages, nothing written yet."""
    account_id, request, now = job.account_id, job.request, job.now
    pinned = None
    if request.sid is not None:
        pinned = await device_store.get(conn, account_id, request.sid)
        if pinned is None:
            raise NotFound(f"No device with sIdentifiant {request.sid!r} in this account.")
    error = await _channel_error(conn, account_id, request.channel, request.port, pinned)
    drafts = await drafting.compose(
        conn, job.base_url, request.message, job.valid, key=job.key, shorturl=request.shorturl
    )
    # A future send time parks the message as scheduled; the scheduler queues it on time.
    waiting = MessageState.SCHEDULED if job.scheduled else MessageState.QUEUED
    # Failed at once: the log shows why, and /resend/ can retry it later. A channel no
    # device can carry fails every message; a number that opted out fails its own.
    errors = {
        draft.guid: error or (OPTED_OUT if draft.recipient in opted else "") for draft in drafts
    }
    if any(errors.values()):
        check_transition(waiting, MessageState.FAILED)
    states = {guid: MessageState.FAILED if why else waiting for guid, why in errors.items()}
    rows = [
        _message_row(
            account_id,
            request,
            draft,
            state=states[draft.guid],
            error=errors[draft.guid],
            now=now,
            not_before=job.not_before,
            expires=job.expires,
        )
        for draft in drafts
    ]
    accepted = [
        Accepted(
            guid=draft.guid,
            recipient=draft.recipient,
            parts=draft.segments.parts,
            encoding=draft.segments.encoding,
            port=request.port,
            channel=request.channel,
            schedule_ms=request.schedule_ms,
            state=states[draft.guid].value,
            error=errors[draft.guid],
            sealed_url=draft.sealed_url,
        )
        for draft in drafts
    ]
    outcome = SendOutcome(
        accepted=accepted, rejected=job.rejected, created_ms=now, passphrase=job.passphrase
    )
    return _Staged(job=job, drafts=drafts, rows=rows, outcome=outcome)


async def _store_guarded(conn: AsyncConnection, job: _SendJob) -> SendOutcome:
    """A send with an idempotency key: claimed, stored and recorded before the next one, so a
    repeat of the key in the same batch finds the first one's answer."""
    if job.guard is None:  # only keyed sends come here
        raise RuntimeError("an unguarded send in the guarded path")
    await job.guard.claim(conn)
    opted = await _opted_out(conn, [job])
    item = await _stage(conn, job, opted.get(job.account_id, set()))
    await _write(conn, [item])
    await job.guard.record(conn, item.outcome)
    return item.outcome


_store_guarded_each = groupcommit.each(_store_guarded)


async def _channel_error(
    conn: AsyncConnection,
    account_id: int,
    channel: str,
    port: int | None,
    pinned: RowMapping | None,
) -> str:
    """Why no device can carry a message on ``channel`` (``""`` when one can); ``pinned`` is
    the device the message was sent to with ``sIdentifiant``, if any.

    WhatsApp needs a device that declared the capability in its last ``hello``; whether it is
    online does not matter (the message waits in the queue for it). A message pinned to a
    device and asking for a SIM ``port`` that device did not announce cannot go out either: it
    would wait until its TTL.
    """
    if pinned is not None:
        sid = pinned["sid"]
        sims = sims_of(pinned)
        if port is not None and sims and port not in sims:
            announced = ", ".join(str(sim) for sim in sims)
            return f"SIM {port} requested, but device {sid} announced only SIM {announced}."
    if channel == "sms":
        return ""
    if pinned is not None:
        if WHATSAPP_CAPABILITY in capabilities_of(pinned):
            return ""
        return f"WhatsApp requested, but device {pinned['sid']} does not declare WhatsApp."
    candidates = await device_store.list_for_account(conn, account_id)
    if any(WHATSAPP_CAPABILITY in capabilities_of(row) for row in candidates):
        return ""
    return "WhatsApp requested, but no device of this account declares WhatsApp."


def _message_row(
    account_id: int,
    request: SendRequest,
    draft: drafting.Draft,
    *,
    state: MessageState,
    error: str,
    now: int,
    not_before: int,
    expires: int,
) -> dict[str, Any]:
    return {
        "guid": draft.guid,
        "account_id": account_id,
        "recipient": draft.recipient,
        "text": draft.text,
        "encoding": draft.segments.encoding,
        "parts": draft.segments.parts,
        "channel": request.channel,
        "state": state.value,
        "port": request.port,
        "requested_sid": request.sid,
        "schedule_ms": request.schedule_ms,
        "not_before_ms": not_before,
        "created_ms": now,
        "updated_ms": now,
        "error_api": error,
        "error_mobile": "",
        "retries": 0,
        "shorturl": request.shorturl,
        "encrypted": request.encrypt,
        "source": request.source,
        "expires_ms": expires,
    }


async def resend(
    ctx: Context, account_id: int, guid: str, ttl_seconds: int | None = None
) -> SentMessage:
    """Put a failed message back in the queue, its errors cleared, and wake the dispatcher.

    Only a ``failed`` message may be resent (409 otherwise): resending a queued or sent one
    would text the recipient twice. It is also a 409 while no device can carry it (WhatsApp
    without a WhatsApp device, or its chosen device deleted) or while its recipient is on the
    opt-out list. The automatic retry count starts again from zero, so an operator error after
    a resend is retried like on the first attempt.
    Its TTL starts again too: ``ttl_seconds`` from now, or the server's setting (the TTL it was
    sent with is not kept once a phone has had it).
    """
    now = ctx.clock()
    expires = expiry.expires_at(now, ttl_seconds or ctx.settings.message_ttl_seconds)
    async with ctx.db.begin() as conn:
        row = await message_store.get(conn, account_id, guid)
        if row is None:
            raise NotFound(f"No message with GUID {guid} in this account.")
        state = MessageState(row["state"])
        if state is not MessageState.FAILED:
            raise StateConflict(
                f"Only a failed message can be resent; this one is {state.value}.",
                status=state.value,
            )
        sid = row["requested_sid"]
        pinned = None if sid is None else await device_store.get(conn, account_id, sid)
        if sid is not None and pinned is None:
            error = f"Device {sid} no longer exists in this account."
        else:
            error = await _channel_error(conn, account_id, row["channel"], row["port"], pinned)
        if error:
            # Queued again, it would wait forever: say so instead of pretending.
            raise StateConflict(error, status=state.value)
        if await optout_store.opted_out(conn, account_id, [row["recipient"]]):
            raise StateConflict(
                "The recipient opted out of your messages: send it again with force_optout=1"
                " if it must go.",
                status=state.value,
            )
        moved = await message_store.transition(
            conn,
            account_id,
            guid,
            MessageState.QUEUED,
            only_from=(MessageState.FAILED,),
            values={
                "error_api": "",
                "error_mobile": "",
                "retries": 0,
                "not_before_ms": now,
                "updated_ms": now,
                "lease_until_ms": None,
                "device_id": None,
                "device_sid": None,
                "sent_sim": None,
                # No phone has had it since this resend: its fresh TTL applies.
                "dispatched_ms": None,
                "expires_ms": expires,
            },
        )
    if moved is None:  # another request resent it between our read and our update
        raise StateConflict("The message changed state meanwhile; it is no longer failed.")
    ctx.bus.publish(bus.WORK, str(account_id))
    return sent_message(moved)


async def cancel(ctx: Context, account_id: int, guid: str) -> SentMessage:
    """Make sure a message that no phone has yet will never be sent: it ends ``cancelled``.

    Only a scheduled or queued message can be cancelled; any other state is a 409 that says
    which (a phone may already be sending a dispatched one, and a settled one is history). One
    guarded update decides, so a phone claiming the message at the same moment either gets it
    (and the cancel is a 409) or does not (and it is cancelled), never both.
    """
    now = ctx.clock()
    async with ctx.db.begin() as conn:
        moved = await message_store.transition(
            conn,
            account_id,
            guid,
            MessageState.CANCELLED,
            only_from=(MessageState.SCHEDULED, MessageState.QUEUED),
            values={"updated_ms": now, "lease_until_ms": None},
        )
        current = None if moved is not None else await message_store.get(conn, account_id, guid)
    if moved is not None:
        return sent_message(moved)
    if current is None:
        raise NotFound(f"No message with GUID {guid} in this account.")
    state = str(current["state"])
    raise StateConflict(
        f"Only a scheduled or queued message can be cancelled; this one is {state}.",
        status=state,
    )
