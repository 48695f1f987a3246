"""The API access page: API keys and OAuth2 clients, created (shown once), listed, revoked.

A new key, or a new client's secret, is on the page that answers the form and nowhere else:
the store keeps only digests. Revoking goes through ``services.keys``/``services.oauth``, which
tell the credential cache at once, so the very next API request with that key is refused.
Another account's key or client answers the same 404 as an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Path, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import InvalidParameter
from simgate.services import keys, oauth
from simgate.services.dashboard_sessions import WebSession
from simgate.web import csrf, sessions
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

MAX_ID: Final = 2**62
Session = Annotated[WebSession, Depends(sessions.signed_in)]
NOTICES: Final = {
    "key-revoked": "The key is revoked: requests with it are refused from now on.",
    "client-revoked": "The client is revoked: its tokens are refused from now on.",
    "already": "That key was already revoked.",
}


async def _page(
    request: Request,
    session: WebSession,
    *,
    status: int = 200,
    notice: str = "",
    key_error: str = "",
    client_error: str = "",
    key_form: dict[str, str] | None = None,
    client_name: str = "",
) -> Response:
    ctx = dashboard(request).ctx
    return render(
        request,
        "access.html",
        status=status,
        title="API access",
        keys=await keys.list_keys(ctx, session.email),
        clients=await oauth.list_clients(ctx, session.email),
        now_ms=ctx.clock(),
        notice=notice,
        key_error=key_error,
        client_error=client_error,
        key_form=key_form or {"name": "", "expires": ""},
        client_name=client_name,
        max_days=keys.MAX_EXPIRY_DAYS,
        max_name=keys.MAX_NAME_CHARS,
    )


@router.get("/dashboard/access", include_in_schema=False)
async def access_page(
    request: Request,
    session: Session,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    return await _page(request, session, notice=NOTICES.get(done or "", ""))


def _days(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > len(str(keys.MAX_EXPIRY_DAYS)):
        raise InvalidParameter(
            f"An expiry is a number of days, 1 to {keys.MAX_EXPIRY_DAYS}.", parameter="expires"
        )
    return int(value)


@router.post("/dashboard/access/keys", include_in_schema=False)
async def create_key(
    request: Request,
    session: Session,
    name: Annotated[str, Form(max_length=1000)] = "",
    expires: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        created = await keys.create_key(dashboard(request).ctx, session.email, name, _days(expires))
    except InvalidParameter as exc:
        form = {"name": name, "expires": expires}
        return await _page(request, session, status=400, key_error=exc.message, key_form=form)
    return render(request, "access_new.html", title="New API key", key=created, client=None)


@router.post("/dashboard/access/keys/{key_id}/revoke", include_in_schema=False)
async def revoke_key(
    request: Request, session: Session, key_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Response:
    revoked = await keys.revoke_key(dashboard(request).ctx, session.email, key_id)
    done = "key-revoked" if revoked else "already"
    return RedirectResponse(f"/dashboard/access?done={done}", status_code=303)


@router.post("/dashboard/access/clients", include_in_schema=False)
async def create_client(
    request: Request, session: Session, name: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    try:
        created = await oauth.create_client(dashboard(request).ctx, session.email, name)
    except InvalidParameter as exc:
        return await _page(request, session, status=400, client_error=exc.message, client_name=name)
    return render(request, "access_new.html", title="New OAuth client", key=None, client=created)


@router.post("/dashboard/access/clients/{client_id}/revoke", include_in_schema=False)
async def revoke_client(
    request: Request, session: Session, client_id: Annotated[str, Path(max_length=64)]
) -> Response:
    await oauth.revoke_client(dashboard(request).ctx, session.email, client_id)
    return RedirectResponse("/dashboard/access?done=client-revoked", status_code=303)
