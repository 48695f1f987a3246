"""The one place where errors become HTTP responses.

Every error body has the same shape, ``{"success": false, "error": <code>, "message": <text>}``;
``/sendsms/`` adds ``result: {"error": <code>, "sent": "0"}`` because its clients read ``result``.
Two protocols have their own error grammar, and get it here too: the OAuth2 token endpoint
answers RFC 6749 §5.2 bodies (``{"error", "error_description"}``, no caching), and the SOAP
endpoint answers SOAP faults.
Nothing a client sends may produce a traceback: unexpected exceptions are logged and answered
with a generic 500 in the same shape, by ``CatchUnexpected``.

Why a middleware and not a handler for ``Exception``: Starlette runs such a handler inside its
outermost ``ServerErrorMiddleware``, which sends the answer and then *re-raises*, so uvicorn
closes the connection and a keep-alive client pays a new connection (and sees a reset if it had
pipelined a request). ``CatchUnexpected`` sits inside that middleware and answers without
re-raising: the connection stays usable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simgate.api import soapxml
from simgate.api.jsonresponse import JsonResponse
from simgate.domain.errors import InvalidClient, OAuthError, RateLimited, SimgateError

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    404: ("not_found", "No such endpoint."),
    405: ("method_not_allowed", "This endpoint answers GET and POST."),
}


#: Renders an error as a page for people (status, code, message, headers) -> response.
PageRenderer = Callable[[Request, int, str, str, dict[str, str] | None], Response]


def serve_pages(app: FastAPI, prefix: str, render: PageRenderer) -> None:
    """Errors of paths under ``prefix`` are answered by ``render`` (the dashboard's HTML pages)
    instead of the API's JSON body; statuses and codes stay those mapped here."""
    app.state.error_pages = (*getattr(app.state, "error_pages", ()), (prefix, render))


def _page_renderer(request: Request) -> PageRenderer | None:
    path = request.url.path
    for prefix, render in getattr(request.app.state, "error_pages", ()):
        if path == prefix or path.startswith(prefix + "/"):
            return render  # type: ignore[no-any-return]
    return None


def error_body(request: Request, code: str, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": code, "message": message, **extra}
    if request.url.path.rstrip("/") == "/sendsms":
        body["result"] = {"error": code, "sent": "0"}
    return body


SERVER_ERROR = 500


def _is_soap(request: Request) -> bool:
    return request.url.path.rstrip("/") == soapxml.ENDPOINT_PATH and request.method == "POST"


def soap_fault(status: int, message: str, code: str, headers: dict[str, str] | None) -> Response:
    """SOAP 1.1 answers every fault with HTTP 500 (SOAP 1.1 §6.2), whatever its cause."""
    return Response(
        soapxml.fault(status < SERVER_ERROR, message, code),
        status_code=SERVER_ERROR,
        media_type="text/xml; charset=utf-8",
        headers=headers,
    )


def oauth_error(exc: OAuthError) -> Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if isinstance(exc, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="simgate", charset="UTF-8"'
    return JsonResponse(
        {"error": exc.code, "error_description": exc.message},
        status_code=exc.status,
        headers=headers,
    )


def error_response(request: Request, exc: SimgateError) -> Response:
    if isinstance(exc, OAuthError):
        return oauth_error(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    render = _page_renderer(request)
    if render is not None:
        return render(request, exc.status, exc.code, exc.message, headers)
    if _is_soap(request):
        return soap_fault(exc.status, exc.message, exc.code, headers)
    return JsonResponse(
        error_body(request, exc.code, exc.message, exc.extra),
        status_code=exc.status,
        headers=headers,
    )


async def _simgate_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, SimgateError):  # registered for SimgateError only
        return unexpected(request, exc)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for HTTPException only
        return unexpected(request, exc)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    render = _page_renderer(request)
    if render is not None:
        return render(request, exc.status_code, code, message, getattr(exc, "headers", None))
    return JsonResponse(
        error_body(request, code, message, {}),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    render = _page_renderer(request)
    if render is not None:
        return render(request, 400, "invalid_parameter", "The form is not complete.", None)
    return JsonResponse(
        error_body(request, "invalid_parameter", "The request parameters are not valid.", {}),
        status_code=400,
    )


def unexpected(request: Request, exc: Exception) -> Response:
    """Log ``exc`` once (the path only: a query string may hold an API key) and answer 500."""
    log.error("unhandled_error", path=request.url.path, error=type(exc).__name__, exc_info=exc)
    if _is_soap(request):
        return soap_fault(
            SERVER_ERROR, "Something went wrong on the server.", "internal_error", None
        )
    return JsonResponse(
        error_body(request, "internal_error", "Something went wrong on the server.", {}),
        status_code=500,
    )


class CatchUnexpected:
    """Pure ASGI middleware: an exception no handler answered becomes the documented 500.

    It is not re-raised, so the server keeps the connection open. When the response had already
    started, only half of it went out: the exception is logged and the app returns, and the
    server closes that connection, since its response can never be completed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:  # the last place that can answer for the app
            response = unexpected(Request(scope), exc)
            if not started:
                await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SimgateError, _simgate_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Innermost of the user middleware stack at this point: later ones wrap it and see a 500.
    app.add_middleware(CatchUnexpected)
