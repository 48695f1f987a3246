"""Rendering pages: one Jinja2 environment, the values every page needs, the security headers.

Templates autoescape everything; only values built by our own code as markup (the SVG chart,
the QR code) are marked safe, in Python, where they are made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context as TemplateContext
from starlette.requests import Request
from starlette.responses import HTMLResponse

from simgate import __version__
from simgate.web import csrf, navigation
from simgate.web.state import dashboard

#: The pages load scripts, styles and images from simgate only: an injected ``<script>`` or
#: inline handler cannot run, and no page can be framed by another site.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@pass_context
def _when(context: TemplateContext, ms: int | None, style: str = "full") -> str:
    """An epoch-milliseconds time in the server's zone; "" for None."""
    if ms is None:
        return ""
    zone: ZoneInfo = context["zone"]
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    if style == "time":
        return moment.strftime("%H:%M:%S")
    if style == "date":
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@pass_context
def _iso(context: TemplateContext, ms: int | None) -> str:
    """The same time as ISO 8601 with offset, for ``<time datetime>``."""
    if ms is None:
        return ""
    zone: ZoneInfo = context["zone"]
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).isoformat(timespec="seconds")


ENV: Final = Environment(
    loader=PackageLoader("simgate.web", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["when"] = _when
ENV.filters["iso"] = _iso
ENV.globals["nav"] = navigation.NAV
ENV.globals["version"] = __version__


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """``template`` rendered with ``values`` and what every page needs (who is signed in, the
    anti-forgery token, the menu entry of this page, the time zone)."""
    token, nonce = csrf.for_page(request)
    ctx = dashboard(request).ctx
    html = ENV.get_template(template).render(
        request_path=request.url.path,
        current=navigation.current(request.url.path),
        session=getattr(request.state, "session", None),
        csrf_token=token,
        csrf_field=csrf.FIELD,
        zone=ctx.settings.zone,
        zone_name=ctx.settings.timezone,
        **values,
    )
    response = HTMLResponse(
        html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )
    if nonce is not None:
        csrf.keep_nonce(response, request, nonce)
    return response
