"""Mounting the dashboard on the app: its pages, its static files, its error pages.

Each page group is one module with one ``router``; :data:`ROUTERS` is the one list that
registers them (and ``web.navigation.NAV`` the menu). Every router carries the anti-forgery
check (``csrf.require``) as a router dependency, so no state-changing route can forget it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from simgate.api import errors
from simgate.api.guard import Guard
from simgate.context import Context
from simgate.web import auth, coming, compose, devices, errorpages, overview, sent
from simgate.web.state import Dashboard

STATIC: Final = Path(__file__).resolve().parent / "static"

ROUTERS: Final[tuple[APIRouter, ...]] = (
    auth.router,
    overview.router,
    devices.router,
    compose.router,
    sent.router,
    coming.router,  # Inbox, Webhooks, API access until their pages exist
)


def install(app: FastAPI, ctx: Context, guard: Guard) -> None:
    """Serve the dashboard under ``/dashboard/`` and send ``/`` there."""
    app.state.dashboard = Dashboard(ctx, guard)

    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/", status_code=302)

    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    app.add_api_route("/dashboard", home, methods=["GET"], include_in_schema=False)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    for router in ROUTERS:
        app.include_router(router)
    errors.serve_pages(app, "/dashboard", errorpages.page)
