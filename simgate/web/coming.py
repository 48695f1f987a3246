"""Pages of the menu not built yet: each says what it will hold, so no link leads nowhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from simgate.services.dashboard_sessions import WebSession
from simgate.web import csrf, sessions
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

COMING = {
    "/dashboard/inbox": (
        "Inbox",
        "Received messages, in threads per number, with replies. Until this page is ready, "
        "use GET /getsms/ or `simgate inbox`.",
    ),
    "/dashboard/webhooks": (
        "Webhooks",
        "Your webhook endpoints, their delivery log, test events and redelivery. Until this "
        "page is ready, use `simgate webhook`.",
    ),
    "/dashboard/access": (
        "API access",
        "API keys and OAuth clients: create, reveal once, revoke, last used. Until this page "
        "is ready, use `simgate key`.",
    ),
}


def _coming(path: str) -> object:
    title, text = COMING[path]

    async def page(
        request: Request, _session: Annotated[WebSession, Depends(sessions.signed_in)]
    ) -> Response:
        return render(request, "coming.html", title=title, text=text)

    return page


for _path in COMING:
    router.add_api_route(_path, _coming(_path), methods=["GET"], include_in_schema=False)  # type: ignore[arg-type]
