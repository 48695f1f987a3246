"""Signed cookie values: ``value.signature``, HMAC-SHA256 with a key derived from the server's.

The session cookie holds a random token that the store knows only by digest; the signature
on top lets a forged or truncated cookie be refused without a database query, and ties cookies
to this server's key (a key change signs everyone out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from simgate.config import Settings


def _mac(key: bytes, name: str, value: str) -> str:
    digest = hmac.new(key, f"{name}={value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign(key: bytes, name: str, value: str) -> str:
    """``value`` with its signature; the cookie's name is signed too, so a value signed for one
    cookie is not accepted in another."""
    return f"{value}.{_mac(key, name, value)}"


def unsign(key: bytes, name: str, signed: str | None) -> str | None:
    """The value if its signature is right, else None."""
    if not signed or "." not in signed:
        return None
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(mac.encode(), _mac(key, name, value).encode()):
        return None
    return value


def secure(request: Request, settings: Settings) -> bool:
    """Whether cookies get the Secure flag: the page came over https (directly, or the public
    address people use is https behind a proxy that speaks http to us)."""
    return request.url.scheme == "https" or settings.public_base_url.startswith("https://")


def put(
    response: Response,
    request: Request,
    settings: Settings,
    *,
    name: str,
    value: str,
    max_age: int | None,
) -> None:
    """Set a cookie the dashboard's way: HttpOnly, SameSite=Lax, path /dashboard."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/dashboard",
        secure=secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def drop(response: Response, request: Request, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name,
        path="/dashboard",
        secure=secure(request, settings),
        httponly=True,
        samesite="lax",
    )
