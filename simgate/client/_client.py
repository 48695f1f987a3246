"""The synchronous client: one method per endpoint of the SMSMobileAPI-compatible API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from simgate import __version__
from simgate.client import _calls
from simgate.client._calls import Call, Day, MobileSortField, Moment, Origin, Period, SortOrder
from simgate.client._models import (
    Conversation,
    Device,
    MobileSentSms,
    ReceivedSms,
    SendResult,
    SentSms,
)

__all__ = ["Client"]

T = TypeVar("T")

USER_AGENT = f"simgate-client/{__version__}"


def checked_base_url(base_url: str) -> httpx.URL:
    """``base_url`` parsed; ``ValueError`` now, rather than a confusing error at the first call."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    return url


def public_url(url: httpx.URL) -> str:
    """The base URL for messages, without any user:password it may carry."""
    return str(url.copy_with(userinfo=b""))


class Client:
    """A blocking client for one account of a simgate (or SMSMobileAPI) server.

    Use it as a context manager, or call :meth:`close`, so that its connections are released::

        with Client("http://127.0.0.1:8000", api_key) as sms:
            result = sms.send("+32470123456", "Hello")

    ``timeout`` (seconds) bounds connecting, each read and each write. ``transport`` replaces
    the network (``httpx.MockTransport`` in tests, a proxy or retry transport in production).
    A ``base_url`` that is not an http(s) URL raises ``ValueError`` at once.
    Every method raises :class:`ApiError` subclasses for refusals and :class:`TransportError`
    when the server cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._http = httpx.Client(
            base_url=checked_base_url(base_url),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def base_url(self) -> str:
        return public_url(self._http.base_url)

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs and tracebacks.
        return f"Client(base_url={self.base_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections; the client cannot be used afterwards."""
        self._http.close()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, **call.request_options(self._api_key)
            )
        except httpx.HTTPError as exc:
            raise _calls.transport_error(exc, self.base_url) from exc
        return call.finish(response)

    def send(
        self,
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
    ) -> SendResult:
        """Queue ``message`` for each recipient (one GUID each); returns once it is stored.

        ``to`` is one number, several separated by commas, or a list. ``sim`` (1 or 2) picks
        the SIM, ``device`` the phone (its SID); ``at`` delays sending (aware datetime, naive
        datetime read as UTC, or UNIX seconds). ``shorturl`` replaces links by short links,
        ``encrypt`` sends a link to the encrypted text (the key is in the result),
        ``whatsapp`` also sends via WhatsApp, ``whatsapp_only`` only via WhatsApp. ``ttl``
        (seconds, a simgate extension) is how long phones have to take it before it expires.
        Invalid recipients are listed in ``rejected`` while the others are sent; if none is
        valid the call raises :class:`InvalidRequestError`.
        """
        return self._run(
            _calls.send(
                to,
                message,
                sim=sim,
                device=device,
                at=at,
                shorturl=shorturl,
                encrypt=encrypt,
                whatsapp=whatsapp,
                whatsapp_only=whatsapp_only,
                ttl=ttl,
            )
        )

    def inbox(
        self, *, device: str | None = None, after: Moment | None = None, only_unread: bool = False
    ) -> list[ReceivedSms]:
        """Received SMS, newest first; of one phone, received after ``after``, or unread only."""
        return self._run(_calls.inbox(device=device, after=after, only_unread=only_unread))

    def mark_read(self, guid: str) -> None:
        """Mark a received SMS as read in the API (the phone's own status is unchanged)."""
        self._run(_calls.mark_read(guid))

    def set_alias(self, guid: str, alias: str | None) -> None:
        """Set the alias of a received SMS; None or ``""`` clears it."""
        self._run(_calls.set_alias(guid, alias))

    def sent_log(
        self,
        *,
        guid: str | None = None,
        before: str | Moment | None = None,
        errors_api: bool = False,
        errors_mobile: bool = False,
        keyword: str | None = None,
        limit: int | None = None,
    ) -> list[SentSms]:
        """One page of the sent log, newest first.

        ``before`` is a GUID (the messages older than that one) or a time; ``errors_api`` and
        ``errors_mobile`` keep the failed rows; ``keyword`` searches number and text. A filter
        that matches nothing gives an empty list. See :meth:`iter_sent_log` for every page.
        """
        return self._run(
            _calls.sent_log(
                guid=guid,
                before=before,
                errors_api=errors_api,
                errors_mobile=errors_mobile,
                keyword=keyword,
                limit=limit,
            )
        )

    def iter_sent_log(
        self,
        *,
        before: str | Moment | None = None,
        errors_api: bool = False,
        errors_mobile: bool = False,
        keyword: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[SentSms]:
        """Every matching row of the sent log, newest first, fetched page by page.

        Each page asks for the rows older than the last GUID of the page before, so rows
        added meanwhile do not shift the pages. It stops at an empty page, or at a page
        shorter than ``page_size`` when one is given.
        """
        cursor = before
        while True:
            page = self.sent_log(
                before=cursor,
                errors_api=errors_api,
                errors_mobile=errors_mobile,
                keyword=keyword,
                limit=page_size,
            )
            yield from page
            if not page or (page_size is not None and len(page) < page_size):
                return
            cursor = page[-1].guid

    def resend(self, guid: str) -> None:
        """Queue a failed message again; :class:`ConflictError` if it is not in error."""
        self._run(_calls.resend(guid))

    def cancel(self, guid: str) -> None:
        """Stop a scheduled or queued message from being sent; :class:`ConflictError` once a
        phone has it (or it is already sent, failed, expired or cancelled)."""
        self._run(_calls.cancel(guid))

    def delete(
        self, *, guid: str | None = None, start: Day | None = None, end: Day | None = None
    ) -> int:
        """Delete messages from the server's log (never from phones); returns how many.

        One message (sent or received) by ``guid``, the whole day ``start``, or the days
        ``start`` to ``end``; simgate deletes sent and received messages of those days.
        Without a GUID or a start day it raises ``ValueError`` before sending anything.
        """
        return self._run(_calls.delete(guid=guid, start=start, end=end))

    def devices(self, *, sid: str | None = None, search: str | None = None) -> list[Device]:
        """The account's phones and modems, with their status; filtered by SID or a search."""
        return self._run(_calls.devices(sid=sid, search=search))

    def update_device(self, sid: str, *, label: str, phone_number: str | None = None) -> None:
        """Set a device's label (``""`` clears it) and, when given, its phone number."""
        self._run(_calls.update_device(sid, label=label, phone_number=phone_number))

    def delete_device(self, sid: str) -> None:
        """Remove a device from the account (its token stops working)."""
        self._run(_calls.delete_device(sid))

    def conversations(
        self,
        origin: Origin = "received",
        *,
        number: str | None = None,
        date_from: Day | None = None,
        date_to: Day | None = None,
        sort: SortOrder | None = None,
        limit: int | None = None,
        latest: int | None = None,
    ) -> list[Conversation]:
        """Conversations (received and sent SMS per phone number).

        ``origin`` says whether conversations start from received or from sent SMS;
        ``number`` keeps one; ``latest=N`` returns only the last N messages of each.
        """
        return self._run(
            _calls.conversations(
                origin,
                number=number,
                date_from=date_from,
                date_to=date_to,
                sort=sort,
                limit=limit,
                latest=latest,
            )
        )

    def sent_from_mobile(
        self,
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
    ) -> list[MobileSentSms]:
        """SMS typed on the phones themselves in the last 7 days (``limit`` at most 200)."""
        return self._run(
            _calls.sent_from_mobile(
                day=day,
                date_from=date_from,
                date_to=date_to,
                period=period,
                number=number,
                device=device,
                message=message,
                search=search,
                sort_by=sort_by,
                sort_order=sort_order,
                limit=limit,
            )
        )
