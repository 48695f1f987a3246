"""The devices page: each phone's state, inline label editing, number and pacing, deleting
(after a confirmation page), and pairing a new one (pairing string, QR code, agent command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import InvalidParameter, NotFound
from simgate.protocol import pairing_string
from simgate.services import devices as device_service
from simgate.services.dashboard_sessions import WebSession
from simgate.services.devices import DeviceChange, DeviceQuery, DeviceView, Pacing
from simgate.web import csrf, sessions
from simgate.web.overview import presence
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

Session = Annotated[WebSession, Depends(sessions.signed_in)]


@dataclass(frozen=True)
class Pairing:
    """What the page shows once after pairing: the token is inside, so never again."""

    label: str
    sid: str
    string: str
    command: str
    qr: Markup


def qr_code(text: str) -> Markup:
    """``text`` as an inline SVG QR code (dark on white, for any phone camera)."""
    svg = segno.make(text, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", svgclass="qr", lineclass=None, title="Pairing QR code"
    )
    svg = svg.replace("<svg ", '<svg role="img" aria-label="Pairing QR code" ', 1)
    return Markup(svg)  # noqa: S704 - segno's own SVG of our pairing string


async def _devices(request: Request, session: WebSession) -> list[DeviceView]:
    found = await device_service.list_devices(
        dashboard(request).ctx, session.account_id, DeviceQuery(), presence(request)
    )
    return found.items


async def _device(request: Request, session: WebSession, sid: str) -> DeviceView:
    """One device of the account; another account's SID is a 404 like an unknown one."""
    found = await device_service.list_devices(
        dashboard(request).ctx, session.account_id, DeviceQuery(sid=sid), presence(request)
    )
    if not found.items:
        raise NotFound("No such device.")
    return found.items[0]


def _page(
    request: Request,
    devices: list[DeviceView],
    *,
    pairing: Pairing | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    ctx = dashboard(request).ctx
    return render(
        request,
        "devices.html",
        status=status,
        title="Devices",
        devices=devices,
        pairing=pairing,
        error=error,
        online_seconds=ctx.settings.device_online_seconds,
    )


@router.get("/dashboard/devices", include_in_schema=False)
async def devices_page(request: Request, session: Session) -> Response:
    return _page(request, await _devices(request, session))


@router.post("/dashboard/devices", include_in_schema=False)
async def add_device(
    request: Request, session: Session, label: Annotated[str, Form()] = ""
) -> Response:
    """Pair a new device; its pairing string is on this answer only."""
    ctx = dashboard(request).ctx
    label = label.strip() or "phone"
    if len(label) > device_service.MAX_LABEL:
        return _page(
            request,
            await _devices(request, session),
            error=f"A label has at most {device_service.MAX_LABEL} characters.",
            status=400,
        )
    paired = await device_service.add_device(ctx, session.email, label)
    string = pairing_string(ctx.settings.public_base_url, paired.token)
    pairing = Pairing(
        label=label,
        sid=paired.sid,
        string=string,
        command=f"simgate agent --pair '{string}' --driver termux",
        qr=qr_code(string),
    )
    return _page(request, await _devices(request, session), pairing=pairing)


@router.get("/dashboard/devices/{sid}/label", include_in_schema=False)
async def label_view(request: Request, session: Session, sid: str) -> Response:
    device = await _device(request, session, sid)
    return render(request, "fragments/device_label.html", device=device, editing=False, error="")


@router.get("/dashboard/devices/{sid}/label/edit", include_in_schema=False)
async def label_form(request: Request, session: Session, sid: str) -> Response:
    device = await _device(request, session, sid)
    return render(request, "fragments/device_label.html", device=device, editing=True, error="")


@router.post("/dashboard/devices/{sid}/label", include_in_schema=False)
async def label_save(
    request: Request, session: Session, sid: str, label: Annotated[str, Form()] = ""
) -> Response:
    ctx = dashboard(request).ctx
    try:
        await device_service.update_device(
            ctx, session.account_id, DeviceChange(sid=sid, label=label)
        )
    except InvalidParameter as exc:
        device = await _device(request, session, sid)
        return render(
            request,
            "fragments/device_label.html",
            # htmx swaps only 2xx answers in: the refusal is shown in place, with a 200.
            status=200 if request.headers.get("hx-request") == "true" else 400,
            device=device,
            editing=True,
            error=exc.message,
        )
    if request.headers.get("hx-request") != "true":
        return RedirectResponse("/dashboard/devices", status_code=303)
    device = await _device(request, session, sid)
    return render(request, "fragments/device_label.html", device=device, editing=False, error="")


def _limit(value: str, name: str) -> int:
    """A pacing field: empty means no limit (0)."""
    text = value.strip()
    if not text:
        return 0
    if not text.isdigit():
        raise InvalidParameter(f"{name} must be a whole number (empty: no limit).")
    return int(text)


@router.post("/dashboard/devices/{sid}/settings", include_in_schema=False)
async def settings_save(
    request: Request,
    session: Session,
    sid: str,
    *,
    phone_number: Annotated[str, Form()] = "",
    rate_per_minute: Annotated[str, Form()] = "",
    rate_per_hour: Annotated[str, Form()] = "",
    daily_cap: Annotated[str, Form()] = "",
) -> Response:
    ctx = dashboard(request).ctx
    try:
        pacing = Pacing(
            rate_per_minute=_limit(rate_per_minute, "Per minute"),
            rate_per_hour=_limit(rate_per_hour, "Per hour"),
            daily_cap=_limit(daily_cap, "Per day"),
        )
        await device_service.update_device(
            ctx,
            session.account_id,
            DeviceChange(
                sid=sid,
                label=None,
                phone_number=phone_number.strip() or None,
                pacing=pacing,
            ),
        )
    except InvalidParameter as exc:
        return _page(request, await _devices(request, session), error=exc.message, status=400)
    return RedirectResponse("/dashboard/devices", status_code=303)


@router.get("/dashboard/devices/{sid}/delete", include_in_schema=False)
async def delete_confirm(request: Request, session: Session, sid: str) -> Response:
    device = await _device(request, session, sid)
    return render(request, "device_delete.html", title="Delete a device", device=device)


@router.post("/dashboard/devices/{sid}/delete", include_in_schema=False)
async def delete(request: Request, session: Session, sid: str) -> Response:
    await device_service.delete_device(dashboard(request).ctx, session.account_id, sid)
    return RedirectResponse("/dashboard/devices", status_code=303)
