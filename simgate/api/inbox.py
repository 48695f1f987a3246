"""``/getsms/``, ``/getsms/set-read/``, ``/getsms/update/``: SMS received on the phones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api import bodies
from simgate.api.answers import ReceivedAnswer
from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start
from simgate.api.sms import MAX_UNIX, YES
from simgate.domain import guids
from simgate.domain.errors import invalid, missing
from simgate.services import inbox
from simgate.services.inbox import InboxQuery, ReceivedSms

router = APIRouter(tags=["SMS"])


def guid_of(params: Params, name: str) -> str:
    """A required message GUID; upper case is accepted and folded, anything else is a 400."""
    value = params.required(name).strip().lower()
    if not guids.is_guid(value):
        raise invalid(name, "expected a 40-character message GUID")
    return value


def inbox_query(params: Params) -> InboxQuery:
    after = params.integer("after_timestamp_unix", minimum=0, maximum=MAX_UNIX)
    return InboxQuery(
        device_sid=params.text("sIdentifiantPhone"),
        # "After" a UNIX second: the whole of that second is excluded.
        after_ms=None if after is None else after * 1000 + 999,
        only_unread=bool(params.choice("onlyunread", YES)),
    )


async def getsms(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    found = await inbox.list_received(ctx, account_id, inbox_query(params))
    zone = ctx.settings.zone
    return json(bodies.sms_list([bodies.received_sms(sms, zone) for sms in found]))


def mutation(sms: ReceivedSms, **changed: Any) -> dict[str, Any]:
    """``{"success": true, "guid": ..., <what changed>}``."""
    return {"success": True, "guid": sms.guid, **changed}


async def set_read(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    sms = await inbox.mark_read(ctx, account_id, guid_of(params, "guid_message"))
    return json(mutation(sms, read=1 if sms.read else 0))


async def update(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    guid = guid_of(params, "guid")
    # Required but may be empty: "alias=" clears, a missing alias is a mistake.
    alias = params.raw("alias")
    if alias is None:
        raise missing("alias")
    sms = await inbox.set_alias(ctx, account_id, guid, alias)
    return json(mutation(sms, alias=sms.alias))


compat_route(
    router,
    "/getsms/",
    getsms,
    summary="List SMS received on your phones, newest first",
    description=f"At most {inbox.MAX_ROWS} rows, the most recently received first.",
    answer=ReceivedAnswer,
    params=(
        Doc("sIdentifiantPhone", "Only SMS received by this phone (its SID)."),
        Doc("after_timestamp_unix", "Only SMS received after this UNIX time.", type="integer"),
        Doc("onlyunread", "`yes`: only SMS not marked as read (API status).", enum=("yes",)),
    ),
)
compat_route(
    router,
    "/getsms/set-read/",
    set_read,
    summary="Mark one received SMS as read (API status only)",
    errors=(404,),
    params=(Doc("guid_message", "GUID of the received SMS.", required=True),),
)
compat_route(
    router,
    "/getsms/update/",
    update,
    summary="Set or clear the alias of one received SMS",
    errors=(404,),
    params=(
        Doc("guid", "GUID of the received SMS.", required=True),
        Doc("alias", "The new alias; empty clears it.", required=True),
    ),
)
