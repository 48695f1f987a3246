"""Compose: send an SMS from the browser and watch what becomes of it, in place.

The form posts with htmx and the answer replaces only the result area; without script it
posts as a plain form and the whole page comes back with the result. The character and part
counter is ``static/compose.js``, written to the rules of ``domain.segments`` (a browser test
checks both agree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from starlette.requests import Request
from starlette.responses import Response

from simgate.domain.errors import SimgateError, invalid
from simgate.services import messages
from simgate.services import sent_log as sent_log_service
from simgate.services.dashboard_sessions import WebSession
from simgate.services.devices import DeviceQuery, DeviceView, list_devices
from simgate.services.messages import SendOutcome, SendRequest
from simgate.web import csrf, sessions
from simgate.web.overview import presence
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

Session = Annotated[WebSession, Depends(sessions.signed_in)]
#: Most messages whose state one result area follows live.
MAX_FOLLOWED = 50


def schedule_ms(value: str, request: Request) -> int | None:
    """A ``datetime-local`` value, read in the server's zone; None when empty."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise invalid("schedule", "not a date and time (YYYY-MM-DD HH:MM)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dashboard(request).ctx.settings.zone)
    return int(moment.timestamp() * 1000)


#: What an empty form shows (every field the template reads).
EMPTY_FORM: dict[str, object] = {
    "recipients": "",
    "message": "",
    "sim": "",
    "device": "",
    "schedule": "",
    "shorturl": False,
    "encrypt": False,
}


async def _devices(request: Request, session: WebSession) -> list[DeviceView]:
    found = await list_devices(
        dashboard(request).ctx, session.account_id, DeviceQuery(), presence(request), traffic=False
    )
    return found.items


@router.get("/dashboard/compose", include_in_schema=False)
async def compose_page(request: Request, session: Session) -> Response:
    return render(
        request,
        "compose.html",
        title="Compose",
        outcome=None,
        error="",
        form=EMPTY_FORM,
        devices=await _devices(request, session),
    )


@router.post("/dashboard/compose", include_in_schema=False)
async def send(
    request: Request,
    session: Session,
    *,
    recipients: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    sim: Annotated[str, Form()] = "",
    device: Annotated[str, Form()] = "",
    schedule: Annotated[str, Form()] = "",
    shorturl: Annotated[str, Form()] = "",
    encrypt: Annotated[str, Form()] = "",
) -> Response:
    ctx = dashboard(request).ctx
    # A browser submits a textarea's line breaks as CR LF; the person typed one break each,
    # which the counter showed as one character: send what the counter counted.
    text = message.replace("\r\n", "\n")
    form = {
        "recipients": recipients,
        "message": text,
        "sim": sim,
        "device": device,
        "schedule": schedule,
        "shorturl": bool(shorturl),
        "encrypt": bool(encrypt),
    }
    outcome: SendOutcome | None = None
    error = ""
    try:
        outcome = await messages.send(
            ctx,
            session.account_id,
            SendRequest(
                recipients=recipients,
                message=text,
                port=int(sim) if sim in ("1", "2") else None,
                sid=device.strip() or None,
                schedule_ms=schedule_ms(schedule, request),
                shorturl=bool(shorturl),
                encrypt=bool(encrypt),
                source="dashboard",
            ),
        )
    except SimgateError as exc:
        error = exc.message
    status = 200 if outcome is not None else 400
    if request.headers.get("hx-request") == "true":
        # htmx swaps only 2xx answers in: the refusal is shown in place, with a 200.
        return render(request, "fragments/compose_result.html", outcome=outcome, error=error)
    return render(
        request,
        "compose.html",
        status=status,
        title="Compose",
        outcome=outcome,
        error=error,
        form=form if outcome is None else EMPTY_FORM,
        devices=await _devices(request, session),
    )


@router.get("/dashboard/compose/status", include_in_schema=False)
async def status(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.watching)],
    guid: Annotated[list[str], Query()],
) -> Response:
    """The states of the messages just sent (polled by the result area until all settle)."""
    found = await sent_log_service.messages_by_guid(
        dashboard(request).ctx, session.account_id, guid[:MAX_FOLLOWED]
    )
    return render(request, "fragments/message_states.html", messages=found)
