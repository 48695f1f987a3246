"""``/log/sent/frommobile/``: SMS typed on the phones themselves, over the last 7 days."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start_as
from simgate.domain import timefmt
from simgate.domain.errors import invalid
from simgate.services import mobile_sent
from simgate.services.mobile_sent import FromMobileQuery, MobileSentEntry

router = APIRouter(tags=["SMS"])

_DAY = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
SORT_ORDERS = {"ASC": False, "DESC": True}


def day_of(params: Params, name: str) -> date | None:
    """A ``YYYY-MM-DD`` calendar day (and only that spelling), or None when absent."""
    value = params.text(name)
    if value is None:
        return None
    if _DAY.match(value) is None:
        raise invalid(name, f"expected a date as YYYY-MM-DD, got {value[:40]!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise invalid(name, f"{value!r} is not a calendar date") from exc


def descending_of(params: Params, name: str, *, default: bool) -> bool:
    """``ASC`` or ``DESC``; lower or mixed case is accepted too (``asc``, ``Desc``)."""
    value = params.text(name)
    if value is None:
        return default
    order = SORT_ORDERS.get(value.upper())
    if order is None:
        raise invalid(name, f"expected 'ASC' or 'DESC', got {value[:40]!r}")
    return order


def query_of(params: Params) -> FromMobileQuery:
    return FromMobileQuery(
        day=day_of(params, "date"),
        day_from=day_of(params, "date_from"),
        day_to=day_of(params, "date_to"),
        period=params.choice("period", {name: name for name in mobile_sent.PERIODS}),
        sid=params.text("sIdentifiant"),
        number=params.search("number"),
        message=params.search("message"),
        search=params.search("search"),
        sort_by=params.choice("sort_by", {name: name for name in mobile_sent.SORT_BY})
        or mobile_sent.DEFAULT_SORT_BY,
        descending=descending_of(params, "sort_order", default=True),
        limit=params.integer("limit", minimum=1, maximum=mobile_sent.MAX_LIMIT)
        or mobile_sent.DEFAULT_LIMIT,
    )


def entry_shape(entry: MobileSentEntry, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "sIdentifiant": entry.device_sid,
        "number": entry.number,
        "message": entry.text,
        "mobile_date_ms": entry.mobile_date_ms,
        "mobile_date_formatted": entry.mobile_date_formatted,
        "synchro_time": timefmt.datetime_str(entry.synchro_ms, zone),
    }


async def frommobile(request: Request) -> Response:
    ctx, params, principal = await start_as(request)
    found = await mobile_sent.list_from_mobile(
        ctx, principal.account_id, query_of(params), region=principal.region
    )
    data = [entry_shape(entry, ctx.settings.zone) for entry in found]
    return json({"success": True, "count": len(data), "data": data})


compat_route(
    router,
    "/log/sent/frommobile/",
    frommobile,
    summary="List SMS sent by hand from your phones (last 7 days)",
    description=(
        "Rows synchronised more than 7 days ago are never returned. Date filters apply to the "
        "time the phone sent the SMS, in the server's configured time zone."
    ),
    params=(
        Doc("date", "Only SMS sent on this day (YYYY-MM-DD)."),
        Doc("date_from", "Only SMS sent on or after this day (YYYY-MM-DD)."),
        Doc("date_to", "Only SMS sent on or before this day (YYYY-MM-DD)."),
        Doc("period", "A predefined period.", enum=mobile_sent.PERIODS),
        Doc("number", "Recipient number: any spelling of a full number, or a part of it."),
        Doc("sIdentifiant", "Only SMS sent from this phone (its SID)."),
        Doc("message", "Only SMS whose text contains this (case-insensitive)."),
        Doc("search", "Text searched in every returned field (case-insensitive)."),
        Doc("sort_by", "Sort field (default mobile_date_ms).", enum=tuple(mobile_sent.SORT_BY)),
        Doc("sort_order", "ASC or DESC (default DESC).", enum=("ASC", "DESC")),
        Doc("limit", f"At most this many rows (1 to {mobile_sent.MAX_LIMIT}).", type="integer"),
    ),
)
