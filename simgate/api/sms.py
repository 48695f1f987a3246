"""The sending side of the compatible API: ``/sendsms/``, ``/resend/``, ``/cancel/``,
``/log/sent/sms/`` and ``/deletesms/``."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api import bodies
from simgate.api.answers import SendAnswer, SendErrorBody, SentLogAnswer
from simgate.api.jsonresponse import JsonResponse
from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start, start_as
from simgate.domain import expiry, guids, timefmt
from simgate.domain.channels import Channel
from simgate.domain.errors import invalid, missing
from simgate.services import idempotency, messages
from simgate.services import sent_log as sent_log_service
from simgate.services.messages import (
    SendOutcome,
    SendRequest,
    SentMessage,
)
from simgate.services.sent_log import DeleteQuery, LogQuery

router = APIRouter(tags=["SMS"])

ZERO_ONE = {"0": False, "1": True}
YES = {"yes": True}
SIM_PORTS = {"1": 1, "2": 2}
# 2100-01-01: a larger "timestamp" is a unit mistake (milliseconds), not a real schedule.
MAX_UNIX = 4_102_444_800
# Days /deletesms/ understands: a wider range is a typo, and past year 9999 date arithmetic fails.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2100, 12, 31)
_DAY = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
TTL_DOC = (
    f"Seconds ({expiry.MIN_TTL_SECONDS}-{expiry.MAX_TTL_SECONDS}) a phone has to take it before"
    " it expires, counted from its schedule time or now; default SIMGATE_MESSAGE_TTL_SECONDS."
)


def channel_of(params: Params) -> Channel:
    """``sendsms``/``sendwa``/``waonly`` as the reference reads them; SMS unless told otherwise."""
    sms = params.choice("sendsms", ZERO_ONE)
    whatsapp = params.choice("sendwa", ZERO_ONE)
    if params.choice("waonly", YES):
        return "whatsapp"
    if whatsapp:
        return "whatsapp" if sms is False else "both"
    return "sms"


def send_request(params: Params, region: str, source: str = "api") -> SendRequest:
    """The send a request asks for; numbers without + are read in ``region`` (the caller's)."""
    recipients = params.required("recipients")
    message = params.required("message")
    schedule = params.integer("schedule_timestamp", minimum=0, maximum=MAX_UNIX)
    return SendRequest(
        recipients=recipients,
        message=message,
        port=params.choice("port", SIM_PORTS),
        sid=params.text("sIdentifiant"),
        channel=channel_of(params),
        schedule_ms=None if schedule is None else schedule * 1000,
        shorturl=bool(params.choice("shorturl", ZERO_ONE)),
        encrypt=bool(params.choice("encrypt_message", YES)),
        source=source,
        ttl_seconds=ttl_param(params),
        force_optout=bool(params.choice("force_optout", ZERO_ONE)),
        region=region,
    )


def ttl_param(params: Params) -> int | None:
    """``ttl``: seconds a phone has to take the message before it expires (an extension)."""
    return params.integer("ttl", minimum=expiry.MIN_TTL_SECONDS, maximum=expiry.MAX_TTL_SECONDS)


def send_body(outcome: SendOutcome, zone: ZoneInfo) -> dict[str, Any]:
    """The ``/sendsms/`` answer: the common shape, plus the sealing key and immediate failures.

    ``encrypted.key`` is the only copy of the passphrase anywhere: the server keeps none.
    """
    body = bodies.send_result(outcome, zone)
    result: dict[str, Any] = body["result"]
    if outcome.passphrase is not None:
        urls = [item.sealed_url for item in outcome.accepted]
        result["encrypted"] = {
            "status": "1",
            "key": outcome.passphrase,
            "url": urls[0],
            "urls": urls,
        }
    failed = outcome.failed
    if failed:
        result["note"] = f"{len(failed)} message(s) accepted but failed at once: {failed[0].error}"
        result["failed"] = [
            {"id": item.guid, "recipient": item.recipient, "error": item.error} for item in failed
        ]
    return body


#: Header of an answer given again for a repeated idempotency key (the first one has none).
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_key(request: Request, params: Params) -> str | None:
    """The ``Idempotency-Key`` header or the ``idempotency_key`` parameter, checked; both may
    be sent only if they agree."""
    header = request.headers.get("idempotency-key", "").strip() or None
    param = params.text("idempotency_key")
    if header is not None and param is not None and header != param:
        raise invalid("idempotency_key", "differs from the Idempotency-Key header")
    key = param or header
    return None if key is None else idempotency.check_key(key)


def replayable(outcome: SendOutcome, zone: ZoneInfo) -> idempotency.Answer:
    """The answer a repeat of the request gets: this one, without the key of an encrypted
    message, which the server never keeps."""
    body = send_body(outcome, zone)
    body["result"]["encrypted"].pop("key", None)
    return idempotency.Answer(status=200, body=bytes(JsonResponse(body).body).decode())


async def sendsms(request: Request) -> Response:
    ctx, params, principal = await start_as(request)
    account_id = principal.account_id
    zone = ctx.settings.zone
    send = send_request(params, principal.region)
    key = idempotency_key(request, params)
    if key is None:
        outcome = await messages.send(ctx, account_id, send)
    else:
        keyed = await idempotency.send(
            ctx, account_id, key, send, lambda outcome: replayable(outcome, zone)
        )
        if keyed.replay is not None:
            return Response(
                keyed.replay.body,
                status_code=keyed.replay.status,
                media_type=JsonResponse.media_type,
                headers={REPLAYED_HEADER: "true"},
            )
        if keyed.outcome is None:  # a KeyedSend has one or the other
            raise RuntimeError("idempotent send without outcome nor replay")
        outcome = keyed.outcome
    return json(send_body(outcome, zone))


def guid_param(params: Params, name: str) -> str | None:
    """A message GUID parameter, lower-cased; a value that cannot be a GUID is a 400."""
    value = params.text(name)
    if value is None:
        return None
    if not guids.is_guid(value.lower()):
        raise invalid(name, "expected a 40-character message GUID")
    return value.lower()


async def resend(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    guid = guid_param(params, "guid")
    if guid is None:
        raise missing("guid")
    message = await messages.resend(ctx, account_id, guid, ttl_param(params))
    return json(
        {
            "success": True,
            "guid": message.guid,
            "status": message.state,
            "note": "The message is queued again and goes out with the next available device.",
        }
    )


async def cancel(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    guid = guid_param(params, "guid")
    if guid is None:
        raise missing("guid")
    message = await messages.cancel(ctx, account_id, guid)
    return json(
        {
            "success": True,
            "guid": message.guid,
            "status": message.state,
            "note": "The message will not be sent.",
        }
    )


def log_query(params: Params) -> LogQuery:
    before = params.text("before")
    before_guid: str | None = None
    before_ms: int | None = None
    if before is not None:
        if guids.is_guid(before.lower()):
            before_guid = before.lower()
        else:
            before_ms = (params.integer("before", minimum=0, maximum=MAX_UNIX) or 0) * 1000
    return LogQuery(
        guid=guid_param(params, "guid_message"),
        before_guid=before_guid,
        before_ms=before_ms,
        error_api=bool(params.choice("error_api", ZERO_ONE)),
        error_mobile=bool(params.choice("error_mobile", ZERO_ONE)),
        keyword=params.search("keyword"),
        limit=params.integer("limit", minimum=1, maximum=500) or 100,
    )


def logged_sms(message: SentMessage, zone: ZoneInfo) -> dict[str, Any]:
    """A sent-log entry: the common shape plus the clicks on its short links and, when the
    phone saw the operator's delivery report, when the recipient's phone got it. The status
    stays ``sent`` (clients wait for that word); ``delivered`` says more."""
    delivered = message.delivered_ms
    return {
        **bodies.sent_sms(message, zone),
        "shorturl_clicks": message.shorturl_clicks or 0,
        "encrypted": "1" if message.encrypted else "0",
        "delivered": "0" if delivered is None else "1",
        "delivered_timestamp": None if delivered is None else timefmt.unix_seconds(delivered),
    }


async def sent_log(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    found = await sent_log_service.sent_log(ctx, account_id, log_query(params))
    items = [logged_sms(message, ctx.settings.zone) for message in found]
    return json(bodies.sms_list(items, empty_code="no_result"))


def day_param(params: Params, name: str) -> date | None:
    value = params.text(name)
    if value is None:
        return None
    try:
        if _DAY.match(value) is None:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise invalid(name, f"expected a date as YYYY-MM-DD, got {value[:40]!r}") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise invalid(name, f"must be between {FIRST_DAY} and {LAST_DAY}")
    return day


def delete_query(params: Params) -> DeleteQuery:
    """One GUID, or one day, or a period: never nothing, so nothing is deleted by accident."""
    guid = guid_param(params, "guid_message")
    first = day_param(params, "date_start")
    last = day_param(params, "date_end")
    if guid is not None and (first is not None or last is not None):
        raise invalid("guid_message", "give either guid_message or dates, not both")
    if last is not None and first is None:
        raise missing("date_start")
    if guid is None and first is None:
        raise missing("guid_message")
    if first is not None and last is not None and last < first:
        raise invalid("date_end", "must not be before date_start")
    return DeleteQuery(guid=guid, first_day=first, last_day=last)


async def deletesms(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    deleted = await sent_log_service.delete_logged(ctx, account_id, delete_query(params))
    return json(
        {
            "success": True,
            "deleted": deleted.total,
            "deleted_sent": deleted.sent,
            "deleted_received": deleted.received,
        }
    )


compat_route(
    router,
    "/sendsms/",
    sendsms,
    summary="Send an SMS (or WhatsApp message) through your own phone",
    description="Queues one message per recipient; delivery is asynchronous.",
    answer=SendAnswer,
    error=SendErrorBody,
    errors=(409,),
    params=[
        Doc("recipients", "One or more numbers, separated by commas or semicolons.", True),
        Doc("message", "The text; long texts go out as a multipart SMS.", True),
        Doc("port", "SIM slot to send from; empty lets the phone choose.", enum=("1", "2")),
        Doc("shorturl", "`1`: replace http(s) links with counted short links.", enum=("0", "1")),
        Doc("sIdentifiant", "SID of the phone that must send it; empty: first available."),
        Doc("sendsms", "`0` blocks the SMS channel (with `sendwa=1`).", enum=("0", "1")),
        Doc("sendwa", "`1`: also send via WhatsApp.", enum=("0", "1")),
        Doc("waonly", "`yes`: WhatsApp only.", enum=("yes",)),
        Doc("encrypt_message", "`yes`: the recipient needs a key to read it.", enum=("yes",)),
        Doc("schedule_timestamp", "UTC UNIX seconds before which it is not sent.", type="integer"),
        Doc("ttl", TTL_DOC, type="integer"),
        Doc("force_optout", "`1`: send to numbers that opted out too.", enum=("0", "1")),
        Doc(
            "idempotency_key",
            "A repeat with this key (or `Idempotency-Key` header) within 24 h gets the first"
            " answer again instead of sending again.",
        ),
    ],
)
compat_route(
    router,
    "/resend/",
    resend,
    summary="Queue a failed message again",
    description="Only a message in the failed state can be resent (409 otherwise).",
    errors=(404, 409),
    params=[
        Doc("guid", "GUID of the failed message.", True),
        Doc("ttl", TTL_DOC, type="integer"),
    ],
)
compat_route(
    router,
    "/cancel/",
    cancel,
    summary="Cancel a message that no phone has taken yet",
    description="Only a scheduled or queued message can be cancelled (409 otherwise).",
    errors=(404, 409),
    params=[Doc("guid", "GUID of the scheduled or queued message.", True)],
)
compat_route(
    router,
    "/log/sent/sms/",
    sent_log,
    summary="The log of messages sent through the API, newest first",
    answer=SentLogAnswer,
    params=[
        Doc("guid_message", "Only this message."),
        Doc("before", "Messages older than this UNIX time or this message's GUID (paging)."),
        Doc("error_api", "`1`: only messages the server could not hand out.", enum=("0", "1")),
        Doc("error_mobile", "`1`: only messages the phone failed to send.", enum=("0", "1")),
        Doc("keyword", "Only messages whose number or text contains this."),
        Doc("limit", "At most this many rows (1-500, default 100).", type="integer"),
    ],
)
compat_route(
    router,
    "/deletesms/",
    deletesms,
    summary="Delete SMS from the server log (not from the phones)",
    description="By guid_message, by day (date_start) or by period (date_start and date_end).",
    params=[
        Doc("guid_message", "The message (sent or received) to delete."),
        Doc("date_start", "Alone: delete that day (YYYY-MM-DD). With date_end: the first day."),
        Doc("date_end", "The last day of the period, included (YYYY-MM-DD)."),
    ],
)
