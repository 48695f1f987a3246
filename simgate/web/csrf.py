"""Anti-forgery tokens: every state-changing dashboard request must carry one.

The token is an HMAC of the session's key (signed in) or of a random nonce kept in its own
cookie (the sign-in and setup forms, before there is a session). Pages put it in a hidden form
field (``csrf_token``) and in ``hx-headers`` for htmx requests (``X-CSRF-Token``). Another
site can make a browser send our cookies, but it cannot read our pages, so it cannot know the
token: any POST, PUT, PATCH or DELETE without the right one is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from simgate.domain.errors import CsrfRejected
from simgate.services import credentials
from simgate.web import cookies, sessions
from simgate.web.state import dashboard

FIELD = "csrf_token"
HEADER = "x-csrf-token"
#: The nonce of visitors not signed in yet (the sign-in and setup forms).
ANON_COOKIE = "simgate_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _token(request: Request, seed: str) -> str:
    return hmac.new(dashboard(request).key("csrf"), seed.encode(), hashlib.sha256).hexdigest()


def expected(request: Request) -> str | None:
    """The token this request must carry, from its cookies; None if it has neither cookie."""
    session_token = sessions.token(request)
    if session_token is not None:
        return _token(request, "session:" + credentials.digest(session_token))
    nonce = request.cookies.get(ANON_COOKIE)
    if nonce:
        return _token(request, "anon:" + nonce)
    return None


def for_page(request: Request) -> tuple[str, str | None]:
    """The token a page embeds, and a new nonce to set as cookie when the visitor has none."""
    token = expected(request)
    if token is not None:
        return token, None
    nonce = secrets.token_urlsafe(24)
    return _token(request, "anon:" + nonce), nonce


def keep_nonce(response: Response, request: Request, nonce: str) -> None:
    cookies.put(
        response,
        request,
        dashboard(request).ctx.settings,
        name=ANON_COOKIE,
        value=nonce,
        max_age=None,
    )


async def require(request: Request) -> None:
    """Router dependency: refuse an unsafe request without the right token (403)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(FIELD)
            sent = value if isinstance(value, str) else None
    wanted = expected(request)
    if not sent or wanted is None or not hmac.compare_digest(sent.encode(), wanted.encode()):
        raise CsrfRejected()
