"""What recipients open: short links (``/s/<code>``) and encrypted messages (``/e/<code>``).

These are plain GET routes for people clicking a link in an SMS, not SMSMobileAPI endpoints:
no API key, no trailing-slash twin. The code in the path is the only credential, so every
answer forbids caching and referrers (the code must not leak into another site's logs).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from simgate.api.answers import Answer, ErrorBody
from simgate.api.routing import context, json
from simgate.services import links, sealing
from simgate.web.sealed import sealed_page

router = APIRouter(tags=["Links"])

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def short_link(request: Request) -> Response:
    url = await links.follow(context(request), str(request.path_params["code"]))
    return RedirectResponse(url, status_code=302, headers=PRIVATE)


async def sealed_page_route(request: Request) -> Response:
    await sealing.sealed_message(context(request), str(request.path_params["code"]))
    page = sealed_page()
    return HTMLResponse(page.html, headers=page.headers)


async def sealed_data(request: Request) -> Response:
    sealed = await sealing.sealed_message(context(request), str(request.path_params["code"]))
    response = json(
        {
            "version": 1,
            "code": sealed.code,
            "kdf": "PBKDF2-SHA256",
            "iterations": sealed.iterations,
            "salt": sealed.salt,
            "cipher": "AES-256-GCM",
            "nonce": sealed.nonce,
            "aad": sealed.aad,
            "ciphertext": sealed.ciphertext,
        }
    )
    response.headers.update(PRIVATE)
    return response


# The handlers read ``code`` from the path themselves; the document still declares it.
CODE = {
    "parameters": [
        {
            "name": "code",
            "in": "path",
            "required": True,
            "description": "The code in the link the recipient received.",
            "schema": {"type": "string"},
        }
    ]
}
UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such code (or it expired)."}
}

router.add_api_route(
    "/s/{code}",
    short_link,
    methods=["GET"],
    summary="Follow a short link (302 to the original URL; the click is counted)",
    response_class=RedirectResponse,
    response_model=None,
    status_code=302,
    responses={
        302: {
            "description": "Redirect to the original URL.",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        },
        **UNKNOWN,
    },
    openapi_extra=CODE,
)
router.add_api_route(
    "/e/{code}",
    sealed_page_route,
    methods=["GET"],
    summary="The page where a recipient decrypts an encrypted message with its key",
    response_class=HTMLResponse,
    response_model=None,
    responses={200: {"content": {"text/html": {}}, "description": "The page."}, **UNKNOWN},
    openapi_extra=CODE,
)
router.add_api_route(
    "/e/{code}/data",
    sealed_data,
    methods=["GET"],
    summary="The ciphertext of an encrypted message, for its page",
    response_model=None,
    responses={200: {"model": Answer, "description": "The sealed message."}, **UNKNOWN},
    openapi_extra=CODE,
)
