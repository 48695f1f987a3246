"""The session cookie and the dependencies that make a page require a signed-in user.

The cookie carries the session's random token, signed (``web.cookies``); the store decides
whether the session is still valid (``services.dashboard_sessions``). A page asked without a
valid session raises ``SignInRequired``, which the dashboard's error pages turn into a redirect
to the sign-in page that comes back afterwards (``next``).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from simgate.domain.errors import SignInRequired
from simgate.services import dashboard_sessions
from simgate.services.dashboard_sessions import WebSession
from simgate.web import cookies
from simgate.web.state import dashboard

COOKIE = "simgate_session"


def token(request: Request) -> str | None:
    """The session token of the request's cookie, if the cookie is ours (signature checked)."""
    return cookies.unsign(dashboard(request).key("cookie"), COOKIE, request.cookies.get(COOKIE))


def next_url(request: Request) -> str:
    """Where to come back to after signing in: this page (its path and query)."""
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def login_url(next_path: str) -> str:
    return "/dashboard/login?next=" + quote(next_path, safe="/")


async def _session(request: Request, *, active: bool) -> WebSession:
    value = token(request)
    session = None
    if value is not None:
        session = await dashboard_sessions.resume(dashboard(request).ctx, value, active=active)
    if session is None:
        raise SignInRequired(next_url=next_url(request) if request.method == "GET" else "")
    request.state.session = session
    return session


async def signed_in(request: Request) -> WebSession:
    """Dependency of every dashboard page and action: the signed-in user, or the sign-in page."""
    return await _session(request, active=True)


async def watching(request: Request) -> WebSession:
    """Dependency of fragments polled in the background: they need a session but do not keep
    it alive, so an unattended tab still times out."""
    return await _session(request, active=False)


def keep(response: Response, request: Request, value: str) -> None:
    """Give the browser the session token (after signing in)."""
    ctx = dashboard(request).ctx
    cookies.put(
        response,
        request,
        ctx.settings,
        name=COOKIE,
        value=cookies.sign(dashboard(request).key("cookie"), COOKIE, value),
        max_age=ctx.settings.dashboard_session_max_seconds,
    )


def forget(response: Response, request: Request) -> None:
    cookies.drop(response, request, dashboard(request).ctx.settings, COOKIE)
