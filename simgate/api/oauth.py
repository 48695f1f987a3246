"""``POST /oauth2/token``: the OAuth2 client credentials grant (RFC 6749 §4.4), and nothing else.

Small on purpose: one grant, client authentication by HTTP Basic or by ``client_id`` and
``client_secret`` in the form body (§2.3.1), the §5.1 answer and the §5.2 errors (shaped in
``api.errors``). Failed client logins count against the caller's address like wrong API keys.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.jsonresponse import JsonResponse
from simgate.api.params import read_body
from simgate.api.routing import context, guard
from simgate.domain.errors import InvalidClient, OAuthError, UnsupportedGrantType
from simgate.services import oauth

router = APIRouter(tags=["OAuth2"])

#: A token request is a few short form fields; nothing legitimate comes near this.
MAX_TOKEN_REQUEST_BYTES = 8192
#: §5.1: the answer carries a credential, so no cache may keep it.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def token_form(request: Request, body: bytes) -> dict[str, str]:
    """The form parameters, empty ones dropped (§3.2), each at most once (§3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("The body must be application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise OAuthError("The body is not valid UTF-8.") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError(f"The parameter {name} is repeated.")
        if value:
            form[name] = value
    return form


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """(client_id, client_secret) from HTTP Basic or the body; one method only (§2.3)."""
    header = request.headers.get("authorization")
    if header is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id is None or secret is None:
            raise InvalidClient("No client authentication was included.")
        return client_id, secret
    if "client_secret" in form:
        raise OAuthError("Use one client authentication method, not two.")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("Unsupported client authentication method.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("Malformed HTTP Basic credentials.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("Malformed HTTP Basic credentials.")
    # Appendix B: both are form-urlencoded before they are put into the Basic header.
    return unquote_plus(client_id), unquote_plus(secret)


async def token(request: Request) -> Response:
    ctx = context(request)
    gate = guard(request)
    address = gate.client_address(request.scope)
    gate.check_address(address)
    form = token_form(request, await read_body(request, MAX_TOKEN_REQUEST_BYTES))
    grant = form.get("grant_type")
    if grant is None:
        raise OAuthError("Missing required parameter: grant_type.")
    if grant != "client_credentials":
        raise UnsupportedGrantType(f"Unsupported grant_type {grant[:40]!r}.")
    try:
        client_id, secret = client_credentials(request, form)
        issued = await oauth.issue_token(ctx, client_id, secret)
    except InvalidClient:
        gate.failed(address)
        raise
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        },
        headers=NO_STORE,
    )


router.add_api_route(
    "/oauth2/token",
    token,
    methods=["POST"],
    summary="Trade a client's id and secret for a bearer access token (client credentials)",
    response_class=JsonResponse,
)
router.add_api_route(
    "/oauth2/token/", token, methods=["POST"], include_in_schema=False, response_class=JsonResponse
)
