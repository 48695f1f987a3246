"""The Devices page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from simgate.services.dashboard_sessions import WebSession
from simgate.web import csrf, sessions
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])


@router.get("/dashboard/devices", include_in_schema=False)
async def devices_page(
    request: Request, _session: Annotated[WebSession, Depends(sessions.signed_in)]
) -> Response:
    return render(request, "coming.html", title="Devices", text="This page is being built.")
