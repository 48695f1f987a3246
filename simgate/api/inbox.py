"""``/getsms/``: SMS received on the account's phones."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api import shapes
from simgate.api.common import compat_route, json, start
from simgate.api.sms import MAX_UNIX, YES
from simgate.services import inbox
from simgate.services.inbox import InboxQuery

router = APIRouter(tags=["SMS"])


async def getsms(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    after = params.integer("after_timestamp_unix", minimum=0, maximum=MAX_UNIX)
    query = InboxQuery(
        device_sid=params.text("sIdentifiantPhone"),
        after_ms=None if after is None else after * 1000 + 999,
        only_unread=bool(params.choice("onlyunread", YES)),
    )
    rows = await inbox.list_received(ctx, account_id, query)
    return json(shapes.sms_list([shapes.received_sms(row, ctx.settings.zone) for row in rows]))


compat_route(router, "/getsms/", getsms, summary="List SMS received on your phones, newest first")
