"""``/conversation/sms/list/``: received and sent SMS grouped into one thread per number."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.frommobile import day_of, descending_of
from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start_as
from simgate.domain import timefmt
from simgate.domain.errors import invalid
from simgate.services import conversations
from simgate.services.conversations import (
    Conversation,
    ConversationMessage,
    ConversationQuery,
    Origin,
)

router = APIRouter(tags=["SMS"])

ORIGINS: dict[str, Origin] = {"received": "received", "sent": "sent"}
ZERO_ONE = {"0": False, "1": True}
_DATETIME = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}\Z")


def moment_of(params: Params, name: str) -> date | datetime | None:
    """``YYYY-MM-DD`` (a whole day) or ``YYYY-MM-DD HH:MM:SS`` (local time, ``T`` allowed)."""
    value = params.text(name)
    if value is None or _DATETIME.match(value) is None:
        return day_of(params, name)
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid(name, f"{value!r} is not a valid date and time") from exc


def origin_of(params: Params) -> Origin:
    """Required, and exactly ``received`` or ``sent``."""
    value = params.required("origineConversation").strip()
    if value not in ORIGINS:
        raise invalid("origineConversation", f"expected 'received' or 'sent', got {value[:40]!r}")
    return ORIGINS[value]


def query_of(params: Params) -> ConversationQuery:
    resume = params.choice("resume", ZERO_ONE)
    lines = params.integer("resume_line_how", minimum=1, maximum=conversations.MAX_MESSAGES)
    return ConversationQuery(
        origin=origin_of(params),
        number=params.search("numero"),
        start=moment_of(params, "date_from"),
        end=moment_of(params, "date_to"),
        ascending=not descending_of(params, "sort", default=True),
        limit=params.integer("limit", minimum=1, maximum=conversations.MAX_LIMIT)
        or conversations.DEFAULT_LIMIT,
        resume_lines=(lines or 1) if resume else None,
    )


def message_shape(message: ConversationMessage, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "direction": message.direction,
        "message_id": message.guid,
        "date": timefmt.datetime_str(message.at_ms, zone),
        "timestamp_utc": timefmt.iso_utc(message.at_ms),
        "message": message.text,
        "status": message.status,
        "mobile_sid": message.device_sid,
    }


def conversation_shape(conversation: Conversation, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "phone_number": conversation.number,
        "contact_alias": conversation.alias,
        "messages": [message_shape(message, zone) for message in conversation.messages],
    }


async def list_conversations(request: Request) -> Response:
    ctx, params, principal = await start_as(request)
    query = query_of(params)
    found = await conversations.list_conversations(
        ctx, principal.account_id, query, region=principal.region
    )
    zone = ctx.settings.zone
    return json(
        {
            "success": True,
            "origineConversation": query.origin,
            "resume": 0 if query.resume_lines is None else 1,
            "resume_line_how": query.resume_lines,
            "conversations": [conversation_shape(item, zone) for item in found],
        }
    )


compat_route(
    router,
    "/conversation/sms/list/",
    list_conversations,
    summary="List SMS conversations: received and sent SMS, one thread per number",
    description=(
        "Conversations are ordered by their latest SMS of the origin side; the messages inside a "
        "conversation are in chronological order. Dates are in the server's configured time zone."
    ),
    params=(
        Doc("origineConversation", "received or sent.", required=True, enum=tuple(ORIGINS)),
        Doc("numero", "Only the conversation with this number."),
        Doc("date_from", "From this day (YYYY-MM-DD) or moment (YYYY-MM-DD HH:MM:SS)."),
        Doc("date_to", "Up to this day (YYYY-MM-DD) or moment (YYYY-MM-DD HH:MM:SS)."),
        Doc("sort", "Order of conversations: DESC (default) or ASC.", enum=("DESC", "ASC")),
        Doc(
            "limit",
            f"Conversations when numero is absent (1 to {conversations.MAX_LIMIT}, default "
            f"{conversations.DEFAULT_LIMIT}).",
            type="integer",
        ),
        Doc("resume", "1: only the latest messages of each conversation.", enum=("0", "1")),
        Doc(
            "resume_line_how",
            f"Messages per conversation when resume=1 (1 to {conversations.MAX_MESSAGES}, "
            "default 1).",
            type="integer",
        ),
    ),
)
