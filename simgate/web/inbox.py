"""The Inbox page: threads per number, one thread with its messages both ways, mark read, reply.

A thread's address is its number in the path (``/dashboard/inbox/+32470123456``). Its newest
page refreshes itself every few seconds (htmx asks the same address; the answer is then the
message list alone, and the poll does not keep the session alive), so an SMS that arrives or
a reply that goes out shows without reloading. The forms work without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from simgate.domain.errors import InvalidParameter, MissingParameter
from simgate.domain.segments import MAX_MESSAGE_CHARS
from simgate.services import threads
from simgate.services.dashboard_sessions import WebSession
from simgate.services.inbox import MAX_ALIAS_CHARS
from simgate.web import csrf, sessions
from simgate.web.state import dashboard
from simgate.web.templating import render

router = APIRouter(dependencies=[Depends(csrf.require)])

NOTICES: Final = {
    "read": "Marked as read.",
    "replied": "Your reply is on its way; its status updates here.",
    "named": "The name is saved.",
}
#: Seconds between two refreshes of an open thread.
REFRESH_SECONDS: Final = 3


def thread_href(number: str) -> str:
    """The thread page of ``number`` (a ``+`` stays as it is; anything unusual is escaped)."""
    return "/dashboard/inbox/" + quote(number, safe="+")


@router.get("/dashboard/inbox", include_in_schema=False)
async def inbox_page(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.signed_in)],
    before: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    listed = await threads.list_threads(dashboard(request).ctx, session.account_id, before)
    return render(request, "inbox.html", title="Inbox", listed=listed, thread_href=thread_href)


@router.post("/dashboard/inbox/read", include_in_schema=False)
async def mark_read(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.signed_in)],
    number: Annotated[str, Form()] = "",
) -> Response:
    await threads.mark_read(dashboard(request).ctx, session.account_id, number)
    return RedirectResponse(thread_href(number.strip()) + "?done=read", status_code=303)


@router.post("/dashboard/inbox/reply", include_in_schema=False)
async def reply(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.signed_in)],
    number: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    ctx = dashboard(request).ctx
    try:
        outcome = await threads.reply(ctx, session.account_id, number, message)
    except (InvalidParameter, MissingParameter) as exc:
        thread = await threads.get_thread(ctx, session.account_id, number)
        return _thread_page(request, thread, status=400, error=_reply_error(exc), draft=message)
    failed = outcome.failed
    if failed:  # refused at once (the number is on the opt-out list)
        thread = await threads.get_thread(ctx, session.account_id, number)
        reason = "it is on the opt-out list" if failed[0].error == "opted_out" else failed[0].error
        return _thread_page(
            request, thread, status=409, error=f"The reply was not sent: {reason}.", draft=message
        )
    return RedirectResponse(thread_href(number.strip()) + "?done=replied", status_code=303)


@router.post("/dashboard/inbox/name", include_in_schema=False)
async def name_number(
    request: Request,
    session: Annotated[WebSession, Depends(sessions.signed_in)],
    number: Annotated[str, Form()] = "",
    alias: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    ctx = dashboard(request).ctx
    try:
        await threads.name_number(ctx, session.account_id, number, alias)
    except InvalidParameter as exc:
        thread = await threads.get_thread(ctx, session.account_id, number)
        return _thread_page(request, thread, status=400, name_error=exc.message, name=alias)
    return RedirectResponse(thread_href(number.strip()) + "?done=named", status_code=303)


def _reply_error(exc: InvalidParameter | MissingParameter) -> str:
    if isinstance(exc, MissingParameter):
        return "Write a message first."
    return f"The reply was not sent: {exc.message}"


@router.get("/dashboard/inbox/{number:path}", include_in_schema=False)
async def thread_page(
    request: Request,
    number: str,
    before: Annotated[str | None, Query(max_length=80)] = None,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    polled = request.headers.get("hx-request") == "true" and before is None
    # A background refresh needs a session but must not keep an unattended tab signed in.
    session = await (sessions.watching(request) if polled else sessions.signed_in(request))
    thread = await threads.get_thread(dashboard(request).ctx, session.account_id, number, before)
    if polled:
        return render(
            request,
            "thread_messages.html",
            title="",
            thread=thread,
            refresh=REFRESH_SECONDS,
            live=True,
            thread_href=thread_href,
        )
    notice = NOTICES.get(done or "", "")
    if done == "named" and not thread.alias:
        notice = "The name is removed."
    return _thread_page(request, thread, notice=notice, paged=before is not None)


def _thread_page(
    request: Request,
    thread: threads.Thread,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    draft: str = "",
    paged: bool = False,
    name_error: str = "",
    name: str | None = None,
) -> Response:
    return render(
        request,
        "thread.html",
        status=status,
        title=f"Conversation with {thread.alias or thread.number}",
        thread=thread,
        error=error,
        notice=notice,
        draft=draft,
        refresh=REFRESH_SECONDS,
        live=not paged,
        thread_href=thread_href,
        max_chars=MAX_MESSAGE_CHARS,
        max_alias=MAX_ALIAS_CHARS,
        name_error=name_error,
        name=(thread.alias or "") if name is None else name,
    )
