"""The overview: phones online, today's traffic, 30 days as a chart, the queue, failures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from simgate.services import overview as overview_service
from simgate.services.dashboard_sessions import WebSession
from simgate.services.devices import Presence
from simgate.web import csrf, sessions
from simgate.web.chart import bar_chart
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])


def presence(request: Request) -> Presence:
    """Who is connected to this process (the dispatcher knows)."""
    found: Presence = request.app.state.dispatcher
    return found


@router.get("/dashboard/", include_in_schema=False)
async def overview_page(
    request: Request, session: Annotated[WebSession, Depends(sessions.signed_in)]
) -> Response:
    state = dashboard(request)
    found = await overview_service.overview(
        state.ctx, session.account_id, presence(request), state.history
    )
    return render(
        request,
        "overview.html",
        title="Overview",
        overview=found,
        chart=bar_chart(found.days, f"Messages per day, last {len(found.days)} days"),
    )
