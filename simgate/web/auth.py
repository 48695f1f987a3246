"""Sign in, sign out, first-run setup and password change.

Sign-in failures are counted per client address and e-mail (``domain.signin``): past a few,
each answer is slowed down; past the limit, the form answers 429 with Retry-After until the
oldest failure is 15 minutes old. A success clears the count.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import InvalidParameter, NotFound
from simgate.services import accounts, dashboard_sessions
from simgate.services.dashboard_sessions import WebSession
from simgate.web import csrf, sessions
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

HOME = "/dashboard/"


def safe_next(value: str | None) -> str:
    """Only a path of this dashboard: a ``next`` pointing at another site is ignored."""
    if (
        value
        and (value == "/dashboard" or value.startswith(("/dashboard/", "/dashboard?")))
        and not any(char in value for char in "\\\r\n")
    ):
        return value
    return HOME


@router.get("/dashboard/login", include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    ctx = dashboard(request).ctx
    if await accounts.setup_open(ctx):
        return RedirectResponse("/dashboard/setup", status_code=302)
    value = sessions.token(request)
    if value is not None and await dashboard_sessions.resume(ctx, value) is not None:
        return RedirectResponse(safe_next(next), status_code=302)
    return render(request, "login.html", title="Sign in", next=safe_next(next), email="", error="")


@router.post("/dashboard/login", include_in_schema=False)
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    state = dashboard(request)
    target = safe_next(next)
    name = f"{state.guard.client_address(request.scope)}|{email.strip().lower()}"
    verdict = state.throttle.verdict(name, time.monotonic())
    if verdict.refused:
        minutes = max(1, round(verdict.retry_after / 60))
        return render(
            request,
            "login.html",
            status=429,
            headers={"Retry-After": str(verdict.retry_after)},
            title="Sign in",
            next=target,
            email=email,
            error=f"Too many failed attempts. Try again in about {minutes} minute"
            + ("s." if minutes != 1 else "."),
        )
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    token = await dashboard_sessions.sign_in(state.ctx, email, password)
    if token is None:
        state.throttle.failed(name, time.monotonic())
        return render(
            request,
            "login.html",
            status=400,
            title="Sign in",
            next=target,
            email=email,
            error="Wrong e-mail or password.",
        )
    state.throttle.succeeded(name)
    response = RedirectResponse(target, status_code=303)
    sessions.keep(response, request, token)
    return response


@router.post("/dashboard/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    value = sessions.token(request)
    if value is not None:
        await dashboard_sessions.sign_out(dashboard(request).ctx, value)
    response = RedirectResponse("/dashboard/login", status_code=303)
    sessions.forget(response, request)
    return response


async def _setup_allowed(request: Request) -> None:
    if not await accounts.setup_open(dashboard(request).ctx):
        raise NotFound("No such page.")


@router.get("/dashboard/setup", include_in_schema=False, dependencies=[Depends(_setup_allowed)])
async def setup_page(request: Request) -> Response:
    return render(request, "setup.html", title="Set up simgate", email="", error="")


@router.post("/dashboard/setup", include_in_schema=False, dependencies=[Depends(_setup_allowed)])
async def setup(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    ctx = dashboard(request).ctx

    def again(error: str) -> Response:
        return render(
            request, "setup.html", status=400, title="Set up simgate", email=email, error=error
        )

    if password != confirm:
        return again("The two passwords are not the same.")
    try:
        created = await accounts.create_first_account(ctx, email, password)
    except InvalidParameter as exc:
        return again(exc.message)
    token = await dashboard_sessions.sign_in(ctx, email, password)
    if token is None:  # the account was just made with this password
        raise NotFound("No such page.")
    response = render(request, "welcome.html", title="Welcome", api_key=created.api_key)
    sessions.keep(response, request, token)
    return response


@router.get("/dashboard/password", include_in_schema=False)
async def password_page(
    request: Request, _session: Annotated[WebSession, Depends(sessions.signed_in)]
) -> Response:
    return render(request, "password.html", title="Change password", error="", done=False)


@router.post("/dashboard/password", include_in_schema=False)
async def change_password(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.signed_in)],
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    if new != confirm:
        return render(
            request,
            "password.html",
            status=400,
            title="Change password",
            error="The two new passwords are not the same.",
            done=False,
        )
    try:
        await dashboard_sessions.change_password(dashboard(request).ctx, session, current, new)
    except InvalidParameter as exc:
        return render(
            request,
            "password.html",
            status=400,
            title="Change password",
            error=exc.message,
            done=False,
        )
    return render(request, "password.html", title="Change password", error="", done=True)
