"""``/sendsms/`` and ``/log/sent/sms/``: sending, and the log of what was sent."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api import shapes
from simgate.api.common import compat_route, json, start
from simgate.api.params import Params
from simgate.domain import guids
from simgate.domain.errors import invalid
from simgate.services import messages
from simgate.services.messages import Channel, LogQuery, SendRequest

router = APIRouter(tags=["SMS"])

ZERO_ONE = {"0": False, "1": True}
YES = {"yes": True}
SIM_PORTS = {"1": 1, "2": 2}
# 2100-01-01: a larger "timestamp" is a unit mistake (milliseconds), not a real schedule.
MAX_UNIX = 4_102_444_800


def channel_of(params: Params) -> Channel:
    """``sendsms``/``sendwa``/``waonly`` as the reference reads them; SMS unless told otherwise."""
    sms = params.choice("sendsms", ZERO_ONE)
    whatsapp = params.choice("sendwa", ZERO_ONE)
    if params.choice("waonly", YES):
        return "whatsapp"
    if whatsapp:
        return "whatsapp" if sms is False else "both"
    return "sms"


def send_request(params: Params, source: str = "api") -> SendRequest:
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
    )


async def sendsms(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    outcome = await messages.send(ctx, account_id, send_request(params))
    return json(shapes.send_result(outcome, ctx.settings.zone))


def log_query(params: Params) -> LogQuery:
    before = params.text("before")
    before_guid: str | None = None
    before_ms: int | None = None
    if before is not None:
        if guids.is_guid(before.lower()):
            before_guid = before.lower()
        else:
            before_ms = (params.integer("before", minimum=0, maximum=MAX_UNIX) or 0) * 1000
    guid = params.text("guid_message")
    if guid is not None and not guids.is_guid(guid.lower()):
        raise invalid("guid_message", "expected a 40-character message GUID")
    return LogQuery(
        guid=None if guid is None else guid.lower(),
        before_guid=before_guid,
        before_ms=before_ms,
        error_api=bool(params.choice("error_api", ZERO_ONE)),
        error_mobile=bool(params.choice("error_mobile", ZERO_ONE)),
        keyword=params.text("keyword"),
        limit=params.integer("limit", minimum=1, maximum=500) or 100,
    )


async def sent_log(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    rows = await messages.sent_log(ctx, account_id, log_query(params))
    items = [shapes.sent_sms(row, ctx.settings.zone) for row in rows]
    return json(shapes.sms_list(items, empty_code="no_result"))


compat_route(
    router,
    "/sendsms/",
    sendsms,
    summary="Send an SMS (or WhatsApp message) through your own phone",
    description="Queues one message per recipient; delivery is asynchronous.",
)
compat_route(
    router,
    "/log/sent/sms/",
    sent_log,
    summary="The log of messages sent through the API, newest first",
)
