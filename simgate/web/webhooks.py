"""The Webhooks page: endpoints (create, edit, disable, delete), test events, delivery logs.

A new endpoint's signing secret (and a rotated one) is shown once, on the page that answers
the form, and never again: the store keeps it sealed. An endpoint's page shows its delivery log
a page at a time, newest first; the newest page refreshes itself (htmx, without keeping an idle
session alive) so that a test event or a redelivery is seen arriving. Every action is a plain
form; another account's endpoint or delivery answers the same 404 as an unknown one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Path, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import InvalidParameter
from simgate.domain.webhooks import FORMAT_EVENTS, DeliveryState, EventType, Format
from simgate.services import webhooks
from simgate.services.dashboard_sessions import WebSession
from simgate.services.webhooks import Endpoint, EndpointChange
from simgate.web import csrf, sessions
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

#: Largest id a path may name (ids are 64-bit; a larger number is no endpoint, not an error).
MAX_ID: Final = 2**62
LOG_PAGE: Final = 25
REFRESH_SECONDS: Final = 3
FORMATS: Final = {fmt.value: fmt for fmt in Format}
STATES: Final = {state.value: state for state in DeliveryState}
#: What each event means, for the checkboxes (the value is the event's wire name).
EVENT_NAMES: Final = {
    EventType.SMS_RECEIVED: "SMS received by a phone",
    EventType.SMS_SUBMITTED: "SMS accepted by the API",
    EventType.SMS_SENT: "SMS sent by a phone",
    EventType.SMS_FAILED: "SMS failed",
    EventType.SMS_MOBILE_SENT: "SMS sent from the phone itself",
    EventType.WHATSAPP_SUBMITTED: "WhatsApp message accepted",
    EventType.WHATSAPP_SENT: "WhatsApp message sent",
    EventType.WHATSAPP_FAILED: "WhatsApp message failed",
}
NOTICES: Final = {
    "saved": "Your changes are saved.",
    "test": "A test event is on its way; its delivery shows in the log below.",
    "redelivered": "The failed deliveries go out again.",
    "nothing": "There was no failed delivery to send again.",
}

EndpointId = Annotated[int, Path(ge=1, le=MAX_ID)]
Session = Annotated[WebSession, Depends(sessions.signed_in)]


def _all_events(endpoint: Endpoint) -> bool:
    return frozenset(endpoint.events) == {event.value for event in FORMAT_EVENTS[endpoint.format]}


def _values() -> dict[str, Any]:
    return {
        "event_names": EVENT_NAMES,
        "formats": list(Format),
        "all_events": _all_events,
    }


async def _list_page(
    request: Request,
    session: WebSession,
    *,
    status: int = 200,
    error: str = "",
    form: Mapping[str, object] | None = None,
    notice: str = "",
) -> Response:
    endpoints = await webhooks.list_endpoints(
        dashboard(request).ctx, session.account_id, delivered=False
    )
    return render(
        request,
        "webhooks.html",
        status=status,
        title="Webhooks",
        endpoints=endpoints,
        error=error,
        notice=notice,
        form=form or {"url": "", "format": Format.V2.value, "events": []},
        max_endpoints=webhooks.MAX_ENDPOINTS,
        **_values(),
    )


@router.get("/dashboard/webhooks", include_in_schema=False)
async def webhooks_page(
    request: Request,
    session: Session,
    deleted: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    notice = "The endpoint is deleted; nothing more is sent to it." if deleted else ""
    return await _list_page(request, session, notice=notice)


def _format(value: str) -> Format:
    fmt = FORMATS.get(value)
    if fmt is None:
        raise InvalidParameter("Choose the V2 or the legacy format.", parameter="format")
    return fmt


@router.post("/dashboard/webhooks", include_in_schema=False)
async def create(
    request: Request,
    session: Session,
    url: Annotated[str, Form(max_length=2048)] = "",
    format: Annotated[str, Form(max_length=16)] = Format.V2.value,
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = tuple(events or ())
    try:
        created = await webhooks.add_endpoint(
            dashboard(request).ctx, session.account_id, url, _format(format), chosen
        )
    except InvalidParameter as exc:
        form = {"url": url, "format": format, "events": list(chosen)}
        return await _list_page(request, session, status=400, error=exc.message, form=form)
    return render(
        request,
        "webhook_secret.html",
        title="Webhook endpoint created",
        endpoint=created.endpoint,
        secret=created.secret,
        rotated=False,
        **_values(),
    )


async def _endpoint_page(
    request: Request,
    session: WebSession,
    endpoint_id: int,
    *,
    state: str | None = None,
    before: int | None = None,
    status: int = 200,
    error: str = "",
    notice: str = "",
) -> Response:
    ctx = dashboard(request).ctx
    endpoint = await webhooks.get_endpoint(ctx, session.account_id, endpoint_id)
    log = await _log(request, session, endpoint_id, state, before)
    return render(
        request,
        "webhook.html",
        status=status,
        title=f"Webhook endpoint {endpoint.id}",
        endpoint=endpoint,
        error=error,
        notice=notice,
        **log,
        **_values(),
    )


async def _log(
    request: Request, session: WebSession, endpoint_id: int, state: str | None, before: int | None
) -> dict[str, Any]:
    chosen = STATES.get(state or "")
    rows = await webhooks.deliveries(
        dashboard(request).ctx,
        session.account_id,
        endpoint_id,
        state=chosen,
        before_id=before,
        limit=LOG_PAGE + 1,
    )
    return {
        "deliveries": rows[:LOG_PAGE],
        "older": rows[LOG_PAGE - 1].id if len(rows) > LOG_PAGE else None,
        "state": chosen.value if chosen else "",
        "states": list(DeliveryState),
        "live": before is None,
        "refresh": REFRESH_SECONDS,
        "endpoint_id": endpoint_id,
    }


@router.get("/dashboard/webhooks/{endpoint_id}", include_in_schema=False)
async def endpoint_page(
    request: Request,
    endpoint_id: EndpointId,
    state: Annotated[str | None, Query(max_length=16)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    if request.headers.get("hx-request") == "true" and before is None:
        # The log's refresh: a session is needed, but polling must not keep it alive.
        session = await sessions.watching(request)
        await webhooks.get_endpoint(dashboard(request).ctx, session.account_id, endpoint_id)
        log = await _log(request, session, endpoint_id, state, None)
        return render(request, "webhook_log.html", title="", **log)
    session = await sessions.signed_in(request)
    notice = NOTICES.get(done or "", "")
    return await _endpoint_page(
        request, session, endpoint_id, state=state, before=before, notice=notice
    )


def _back(endpoint_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/dashboard/webhooks/{endpoint_id}?done={done}", status_code=303)


@router.post("/dashboard/webhooks/{endpoint_id}/edit", include_in_schema=False)
async def edit(  # noqa: PLR0917 - one parameter per form field, as FastAPI reads them
    request: Request,
    session: Session,
    endpoint_id: EndpointId,
    url: Annotated[str, Form(max_length=2048)] = "",
    format: Annotated[str, Form(max_length=16)] = Format.V2.value,
    events: Annotated[list[str] | None, Form()] = None,
    enabled: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    change = EndpointChange(
        url=url,
        format=FORMATS.get(format),
        events=tuple(events or ()),
        enabled=enabled is not None,
    )
    try:
        if change.format is None:
            _format(format)
        await webhooks.update_endpoint(
            dashboard(request).ctx, session.account_id, endpoint_id, change
        )
    except InvalidParameter as exc:
        return await _endpoint_page(request, session, endpoint_id, status=400, error=exc.message)
    return _back(endpoint_id, "saved")


@router.post("/dashboard/webhooks/{endpoint_id}/test", include_in_schema=False)
async def send_test(request: Request, session: Session, endpoint_id: EndpointId) -> Response:
    await webhooks.send_test(dashboard(request).ctx, session.account_id, endpoint_id)
    return _back(endpoint_id, "test")


@router.post("/dashboard/webhooks/{endpoint_id}/redeliver", include_in_schema=False)
async def redeliver(
    request: Request,
    session: Session,
    endpoint_id: EndpointId,
    delivery: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    moved = await webhooks.redeliver(
        dashboard(request).ctx, session.account_id, endpoint_id, delivery
    )
    return _back(endpoint_id, "redelivered" if moved else "nothing")


@router.post("/dashboard/webhooks/{endpoint_id}/rotate", include_in_schema=False)
async def rotate(request: Request, session: Session, endpoint_id: EndpointId) -> Response:
    ctx = dashboard(request).ctx
    secret = await webhooks.reveal_secret(ctx, session.account_id, endpoint_id, rotate=True)
    endpoint = await webhooks.get_endpoint(ctx, session.account_id, endpoint_id)
    return render(
        request,
        "webhook_secret.html",
        title="New signing secret",
        endpoint=endpoint,
        secret=secret,
        rotated=True,
        **_values(),
    )


@router.post("/dashboard/webhooks/{endpoint_id}/delete", include_in_schema=False)
async def delete(request: Request, session: Session, endpoint_id: EndpointId) -> Response:
    await webhooks.remove_endpoint(dashboard(request).ctx, session.account_id, endpoint_id)
    return RedirectResponse("/dashboard/webhooks?deleted=1", status_code=303)
