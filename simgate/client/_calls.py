"""Every API call as data: which endpoint, which parameters, how to read the answer.

The synchronous and the asynchronous client differ only in how bytes travel, so everything
else lives here once: building the parameters exactly as the compatible API spells them, and
turning an HTTP response into a typed result or the right exception. A :class:`Call` is built
by one of the functions below and run by ``Client`` or ``AsyncClient``.

HTTP methods follow the reference documentation: POST (form body) where it documents POST,
GET (query string) where it documents GET only, so that the client also works against servers
that are strict about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, Literal, TypeVar

import httpx

from simgate.client import _fields as f
from simgate.client._errors import TransportError, UnexpectedResponseError, error_for_status
from simgate.client._models import (
    Conversation,
    Device,
    MobileSentSms,
    ReceivedSms,
    SendResult,
    SentSms,
    parse_conversation,
    parse_device,
    parse_mobile_sent,
    parse_received,
    parse_send,
    parse_sent,
)

T = TypeVar("T")

Method = Literal["GET", "POST"]
Moment = datetime | int
"""A point in time: an aware datetime, a naive one (read as UTC) or UNIX seconds."""
Day = date | str
"""A calendar day: a ``date`` (or ``datetime``, whose day is used) or ``YYYY-MM-DD``."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request to the API and the reader of its successful answer."""

    method: Method
    path: str
    params: Mapping[str, str]
    read: Callable[[Mapping[str, Any]], T]

    def request_options(self, api_key: str) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request``: the key travels with the parameters."""
        values = {"apikey": api_key, **self.params}
        return {"params": values} if self.method == "GET" else {"data": values}

    def finish(self, response: httpx.Response) -> T:
        """The typed result of ``response``, or the exception that it means."""
        body = _json_object(response)
        if not response.is_success or body.get("success") is False:
            raise error_for_status(
                response.status_code, body, retry_after=response.headers.get("retry-after")
            )
        if not body:
            raise UnexpectedResponseError(
                response.status_code,
                "unexpected_response",
                f"{self.path} answered HTTP {response.status_code} without a JSON object.",
            )
        try:
            return self.read(body)
        except f.FieldError as exc:
            raise UnexpectedResponseError(
                response.status_code,
                "unexpected_response",
                f"{self.path} answered in an unexpected shape: {exc}.",
                body=body,
            ) from exc


def _json_object(response: httpx.Response) -> Mapping[str, Any]:
    """The body as a JSON object; empty when it is anything else (HTML error page, ...)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- parameter spelling ---------------------------------------------------------------------------


def unix_seconds(moment: Moment) -> int:
    """UNIX seconds of ``moment``; a naive datetime is taken as UTC, like the API's timestamps."""
    if isinstance(moment, bool):
        raise TypeError("a time must be a datetime or UNIX seconds, not a bool")
    if isinstance(moment, datetime):
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return int(aware.timestamp())
    if isinstance(moment, int):
        return moment
    raise TypeError(f"a time must be a datetime or UNIX seconds, not {type(moment).__name__}")


def _day(value: Day) -> str:
    """``YYYY-MM-DD``; a string passes unchanged (some endpoints also take a full date-time)."""
    return value if isinstance(value, str) else value.strftime("%Y-%m-%d")


def _recipients(to: str | Sequence[str]) -> str:
    return to if isinstance(to, str) else ",".join(number.strip() for number in to)


def _params(**values: str | int | None) -> dict[str, str]:
    """The non-None values as strings; None means "not sent" (the API's empty == absent)."""
    return {name: str(value) for name, value in values.items() if value is not None}


def _yes(enabled: bool, spelled: str = "1") -> str | None:
    return spelled if enabled else None


# -- readers ----------------------------------------------------------------------------------


def _sms_list(item: Callable[[Mapping[str, Any]], T]) -> Callable[[Mapping[str, Any]], list[T]]:
    """Reader of ``{"result": {"error": ..., "sms": [...]}}``.

    ``result.error`` is not a failure here: failures come with a 4xx status, and a filter that
    matched nothing answers ``"no_result"`` with an empty list, which is just an empty list.
    """

    def read(body: Mapping[str, Any]) -> list[T]:
        return [item(row) for row in f.mappings(f.mapping(body, "result"), "sms")]

    return read


def _ignore(body: Mapping[str, Any]) -> None:
    """Reader of a mutation's ``{"success": true, ...}``: success is all there is to know."""


def transport_error(exc: httpx.HTTPError, base_url: str) -> TransportError:
    """Our error for an httpx failure; the request URL is left out (it may carry the key)."""
    detail = str(exc).strip() or type(exc).__name__
    return TransportError(f"No answer from {base_url}: {detail}")


# -- the calls --------------------------------------------------------------------------------


def send(
    to: str | Sequence[str],
    message: str,
    *,
    sim: int | None = None,
    device: str | None = None,
    at: Moment | None = None,
    shorturl: bool = False,
    encrypt: bool = False,
    whatsapp: bool = False,
    whatsapp_only: bool = False,
    ttl: int | None = None,
) -> Call[SendResult]:
    params = _params(
        recipients=_recipients(to),
        message=message,
        port=sim,
        sIdentifiant=device,
        schedule_timestamp=None if at is None else unix_seconds(at),
        shorturl=_yes(shorturl),
        encrypt_message=_yes(encrypt, "yes"),
        # waonly=yes alone means WhatsApp only; sendwa=1 adds WhatsApp beside the SMS.
        waonly=_yes(whatsapp_only, "yes"),
        sendwa=_yes(whatsapp and not whatsapp_only),
        ttl=ttl,
    )
    return Call("POST", "/sendsms/", params, parse_send)


def inbox(
    *, device: str | None = None, after: Moment | None = None, only_unread: bool = False
) -> Call[list[ReceivedSms]]:
    params = _params(
        sIdentifiantPhone=device,
        after_timestamp_unix=None if after is None else unix_seconds(after),
        onlyunread=_yes(only_unread, "yes"),
    )
    return Call("GET", "/getsms/", params, _sms_list(parse_received))


def mark_read(guid: str) -> Call[None]:
    return Call("GET", "/getsms/set-read/", _params(guid_message=guid), _ignore)


def set_alias(guid: str, alias: str | None) -> Call[None]:
    # ``alias`` is required by the API and an empty value clears it, so it is always sent.
    return Call("POST", "/getsms/update/", {"guid": guid, "alias": alias or ""}, _ignore)


def sent_log(
    *,
    guid: str | None = None,
    before: str | Moment | None = None,
    errors_api: bool = False,
    errors_mobile: bool = False,
    keyword: str | None = None,
    limit: int | None = None,
) -> Call[list[SentSms]]:
    params = _params(
        guid_message=guid,
        before=before if before is None or isinstance(before, str) else unix_seconds(before),
        error_api=_yes(errors_api),
        error_mobile=_yes(errors_mobile),
        keyword=keyword,
        limit=limit,
    )
    return Call("GET", "/log/sent/sms/", params, _sms_list(parse_sent))


def resend(guid: str) -> Call[None]:
    return Call("POST", "/resend/", _params(guid=guid), _ignore)


def cancel(guid: str) -> Call[None]:
    return Call("POST", "/cancel/", _params(guid=guid), _ignore)


def _deleted(body: Mapping[str, Any]) -> int:
    return f.opt_integer(body, "deleted") or 0


def delete(
    *, guid: str | None = None, start: Day | None = None, end: Day | None = None
) -> Call[int]:
    if guid is None and start is None:
        # An unfiltered /deletesms/ is the one call that could empty a whole log by mistake.
        raise ValueError("delete() needs a guid or a start day")
    if end is not None and start is None:
        raise ValueError("delete() needs a start day when an end day is given")
    params = _params(
        guid_message=guid,
        date_start=None if start is None else _day(start),
        date_end=None if end is None else _day(end),
    )
    return Call("GET", "/deletesms/", params, _deleted)


def _devices(body: Mapping[str, Any]) -> list[Device]:
    return [parse_device(item) for item in f.mappings(body, "items")]


def devices(*, sid: str | None = None, search: str | None = None) -> Call[list[Device]]:
    return Call("POST", "/gateway/mobile/list/", _params(sid=sid, search=search), _devices)


def update_device(sid: str, *, label: str, phone_number: str | None = None) -> Call[None]:
    # ``label`` is required by the API but may be empty, so it is always sent.
    params = {"sid": sid, "label": label, **_params(phone_number=phone_number)}
    return Call("POST", "/gateway/mobile/update/", params, _ignore)


def delete_device(sid: str) -> Call[None]:
    return Call("POST", "/gateway/mobile/delete/", _params(sid=sid), _ignore)


Origin = Literal["received", "sent"]
SortOrder = Literal["ASC", "DESC"]


def _conversations(body: Mapping[str, Any]) -> list[Conversation]:
    return [parse_conversation(item) for item in f.mappings(body, "conversations")]


def conversations(
    origin: Origin = "received",
    *,
    number: str | None = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
    sort: SortOrder | None = None,
    limit: int | None = None,
    latest: int | None = None,
) -> Call[list[Conversation]]:
    params = _params(
        origineConversation=origin,
        numero=number,
        date_from=None if date_from is None else _day(date_from),
        date_to=None if date_to is None else _day(date_to),
        sort=sort,
        limit=limit,
        resume=None if latest is None else 1,
        resume_line_how=latest,
    )
    return Call("POST", "/conversation/sms/list/", params, _conversations)


Period = Literal["today", "yesterday", "last_24h", "last_3days", "last_7days"]
MobileSortField = Literal[
    "sIdentifiant", "number", "message", "mobile_date_ms", "mobile_date_formatted", "synchro_time"
]


def _mobile_sent(body: Mapping[str, Any]) -> list[MobileSentSms]:
    return [parse_mobile_sent(item) for item in f.mappings(body, "data")]


def sent_from_mobile(
    *,
    day: Day | None = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
    period: Period | None = None,
    number: str | None = None,
    device: str | None = None,
    message: str | None = None,
    search: str | None = None,
    sort_by: MobileSortField | None = None,
    sort_order: SortOrder | None = None,
    limit: int | None = None,
) -> Call[list[MobileSentSms]]:
    params = _params(
        date=None if day is None else _day(day),
        date_from=None if date_from is None else _day(date_from),
        date_to=None if date_to is None else _day(date_to),
        period=period,
        number=number,
        sIdentifiant=device,
        message=message,
        search=search,
        sort_by=sort_by,
        sort_order=sort_order,
        limit=limit,
    )
    return Call("POST", "/log/sent/frommobile/", params, _mobile_sent)
