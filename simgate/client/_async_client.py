"""The asynchronous client: :class:`Client`'s twin for asyncio and trio code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from simgate.client import _calls
from simgate.client._calls import Call, Day, MobileSortField, Moment, Origin, Period, SortOrder
from simgate.client._client import USER_AGENT, checked_base_url, public_url
from simgate.client._models import (
    Conversation,
    Device,
    MobileSentSms,
    ReceivedSms,
    SendResult,
    SentSms,
)

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """The non-blocking twin of :class:`Client`: same methods, same results, same errors.

    Use it as an async context manager, or await :meth:`aclose`::

        async with AsyncClient("http://127.0.0.1:8000", api_key) as sms:
            result = await sms.send("+32470123456", "Hello")
            async for row in sms.iter_sent_log():
                ...
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
        self._http = httpx.AsyncClient(
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
        return f"AsyncClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connections; the client cannot be used afterwards."""
        await self._http.aclose()

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, **call.request_options(self._api_key)
            )
        except httpx.HTTPError as exc:
            raise _calls.transport_error(exc, self.base_url) from exc
        return call.finish(response)

    async def send(
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
        """Queue ``message`` for each recipient; see :meth:`Client.send`."""
        return await self._run(
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

    async def inbox(
        self, *, device: str | None = None, after: Moment | None = None, only_unread: bool = False
    ) -> list[ReceivedSms]:
        """Received SMS, newest first; of one phone, received after ``after``, or unread only."""
        return await self._run(_calls.inbox(device=device, after=after, only_unread=only_unread))

    async def mark_read(self, guid: str) -> None:
        """Mark a received SMS as read in the API (the phone's own status is unchanged)."""
        await self._run(_calls.mark_read(guid))

    async def set_alias(self, guid: str, alias: str | None) -> None:
        """Set the alias of a received SMS; None or ``""`` clears it."""
        await self._run(_calls.set_alias(guid, alias))

    async def sent_log(
        self,
        *,
        guid: str | None = None,
        before: str | Moment | None = None,
        errors_api: bool = False,
        errors_mobile: bool = False,
        keyword: str | None = None,
        limit: int | None = None,
    ) -> list[SentSms]:
        """One page of the sent log, newest first; see :meth:`Client.sent_log`."""
        return await self._run(
            _calls.sent_log(
                guid=guid,
                before=before,
                errors_api=errors_api,
                errors_mobile=errors_mobile,
                keyword=keyword,
                limit=limit,
            )
        )

    async def iter_sent_log(
        self,
        *,
        before: str | Moment | None = None,
        errors_api: bool = False,
        errors_mobile: bool = False,
        keyword: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[SentSms]:
        """Every matching row of the sent log, page by page; see :meth:`Client.iter_sent_log`."""
        cursor = before
        while True:
            page = await self.sent_log(
                before=cursor,
                errors_api=errors_api,
                errors_mobile=errors_mobile,
                keyword=keyword,
                limit=page_size,
            )
            for row in page:
                yield row
            if not page or (page_size is not None and len(page) < page_size):
                return
            cursor = page[-1].guid

    async def resend(self, guid: str) -> None:
        """Queue a failed message again; :class:`ConflictError` if it is not in error."""
        await self._run(_calls.resend(guid))

    async def cancel(self, guid: str) -> None:
        """Stop a waiting message from being sent; see :meth:`Client.cancel`."""
        await self._run(_calls.cancel(guid))

    async def delete(
        self, *, guid: str | None = None, start: Day | None = None, end: Day | None = None
    ) -> int:
        """Delete from the server's log; returns how many. See :meth:`Client.delete`."""
        return await self._run(_calls.delete(guid=guid, start=start, end=end))

    async def devices(self, *, sid: str | None = None, search: str | None = None) -> list[Device]:
        """The account's phones and modems, with their status; filtered by SID or a search."""
        return await self._run(_calls.devices(sid=sid, search=search))

    async def update_device(self, sid: str, *, label: str, phone_number: str | None = None) -> None:
        """Set a device's label (``""`` clears it) and, when given, its phone number."""
        await self._run(_calls.update_device(sid, label=label, phone_number=phone_number))

    async def delete_device(self, sid: str) -> None:
        """Remove a device from the account (its token stops working)."""
        await self._run(_calls.delete_device(sid))

    async def conversations(
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
        """Conversations per phone number; see :meth:`Client.conversations`."""
        return await self._run(
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

    async def sent_from_mobile(
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
        return await self._run(
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
