"""The Sent page (filters, keyset paging, live states) and the message page (its steps,
resend when failed, cancel while scheduled or queued).

Live updates are htmx polling of small fragments: the list's rows every 2 s and a message's
story every second, only while something shown may still change; polls use the ``watching``
session, which does not keep an unattended tab signed in.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import invalid
from simgate.domain.states import MessageState
from simgate.services import messages
from simgate.services import sent_list as sent_service
from simgate.services.dashboard_sessions import WebSession
from simgate.services.devices import DeviceQuery, list_devices
from simgate.services.sent_list import SentFilter
from simgate.web import csrf, sessions
from simgate.web.overview import presence
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

Session = Annotated[WebSession, Depends(sessions.signed_in)]
Watching = Annotated[WebSession, Depends(sessions.watching)]
FILTERS = ("status", "device", "number", "text", "from", "to")


def _day(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise invalid(name, "not a date (YYYY-MM-DD)") from exc


def _filter(request: Request) -> tuple[SentFilter, dict[str, str]]:
    """The filter of the query string, and the query's filter fields (for links and forms)."""
    raw = {name: request.query_params.get(name, "") for name in FILTERS}
    query = SentFilter(
        status=raw["status"],
        device=raw["device"],
        number=raw["number"],
        text=raw["text"],
        date_from=_day(raw["from"], "from"),
        date_to=_day(raw["to"], "to"),
        before=request.query_params.get("before", ""),
    )
    return query, raw


def _query_string(raw: dict[str, str], **extra: str) -> str:
    return urlencode({k: v for k, v in {**raw, **extra}.items() if v})


@router.get("/dashboard/sent", include_in_schema=False)
async def sent_page(request: Request, session: Session) -> Response:
    ctx = dashboard(request).ctx
    query, raw = _filter(request)
    page = await sent_service.sent_page(ctx, session.account_id, query)
    devices = await list_devices(
        ctx, session.account_id, DeviceQuery(), presence(request), traffic=False
    )
    return render(
        request,
        "sent.html",
        title="Sent",
        page=page,
        raw=raw,
        states=[state.value for state in MessageState],
        devices=devices.items,
        rows_url="/dashboard/sent/rows?" + _query_string(raw, before=query.before),
        next_url=(
            None
            if page.next_before is None
            else "/dashboard/sent?" + _query_string(raw, before=page.next_before)
        ),
        first_url=("/dashboard/sent?" + _query_string(raw)) if query.before else None,
    )


@router.get("/dashboard/sent/rows", include_in_schema=False)
async def sent_rows(request: Request, session: Watching) -> Response:
    """The list's rows again, for the page's polling while some may still change."""
    query, raw = _filter(request)
    page = await sent_service.sent_page(dashboard(request).ctx, session.account_id, query)
    return render(
        request,
        "fragments/sent_rows.html",
        page=page,
        rows_url="/dashboard/sent/rows?" + _query_string(raw, before=query.before),
    )


@router.get("/dashboard/messages/{guid}", include_in_schema=False)
async def message_page(request: Request, session: Session, guid: str) -> Response:
    story = await sent_service.message_story(dashboard(request).ctx, session.account_id, guid)
    return render(request, "message.html", title="Message", story=story)


@router.get("/dashboard/messages/{guid}/story", include_in_schema=False)
async def message_fragment(request: Request, session: Watching, guid: str) -> Response:
    story = await sent_service.message_story(dashboard(request).ctx, session.account_id, guid)
    return render(request, "fragments/message_story.html", story=story)


@router.post("/dashboard/messages/{guid}/resend", include_in_schema=False)
async def resend(request: Request, session: Session, guid: str) -> Response:
    await messages.resend(dashboard(request).ctx, session.account_id, guid)
    return RedirectResponse(f"/dashboard/messages/{guid}", status_code=303)


@router.post("/dashboard/messages/{guid}/cancel", include_in_schema=False)
async def cancel(request: Request, session: Session, guid: str) -> Response:
    await messages.cancel(dashboard(request).ctx, session.account_id, guid)
    return RedirectResponse(f"/dashboard/messages/{guid}", status_code=303)
