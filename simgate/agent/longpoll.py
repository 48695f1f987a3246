"""The agent's HTTP long-poll transport, for networks whose proxies break WebSockets (issue 9).

:class:`LongPollTransport` offers what :class:`~simgate.agent.connection.Connection` uses of a
WebSocket (``send``, ``recv``, ``async for``, ``close``) on top of two HTTP endpoints
(docs/device-protocol.md, "Long-poll fallback"):

* a sender task posts the frames given to :meth:`send` to ``/device/report``, in order, batched
  (the first report, holding ``hello``, opens the session);
* a poller task fetches the server's frames from ``/device/poll``, each poll waiting up to
  ``wait`` seconds for the first one, and passes on the cursor it was given, so a poll whose
  answer was lost is made again without losing a frame.

The end of the session is reported as websockets reports a closed socket,
:class:`~websockets.exceptions.ConnectionClosed` with the server's close code, so the runner,
the connection's loops and the outbox treat both transports alike: on any drop the runner
reconnects and the outbox resends what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from simgate.protocol import CLOSE_INVALID_TOKEN, CLOSE_INVALID_TOKEN_REASON, MAX_FRAME_BYTES

__all__ = [
    "DEVICE_POLL_PATH",
    "DEVICE_REPORT_PATH",
    "LongPollTransport",
    "device_http_base",
]

log = logging.getLogger(__name__)

DEVICE_POLL_PATH = "/device/poll"
DEVICE_REPORT_PATH = "/device/report"
#: The server's bounds on one report (frames, bytes), less room for the envelope.
MAX_REPORT_FRAMES = 100
MAX_REPORT_BYTES = 2 * MAX_FRAME_BYTES - 4096
#: Attempts at one request before the session counts as dropped, and the pauses between them.
_RETRY_DELAYS = (0.5, 1.0, 2.0)
_CLOSE_TIMEOUT = 5.0
_HTTP_UNAUTHORIZED = 401
_HTTP_FORBIDDEN = 403
_HTTP_NOT_FOUND = 404
_HTTP_GONE = 410
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500
_CLEAN = (1000, 1001)


def device_http_base(server: str) -> str:
    """The HTTP base URL of a server given as the agent's ``--server``.

    ``http(s)://host/base`` is kept; a ``ws(s)://`` URL becomes ``http(s)://``, without the
    ``/device/ws`` it may end with.
    """
    parts = urlsplit(server.strip())
    scheme = parts.scheme.lower()
    path = parts.path.rstrip("/")
    if scheme in ("ws", "wss"):
        scheme = "http" if scheme == "ws" else "https"
        path = path.removesuffix("/device/ws")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class _Dropped(Exception):
    """The session is over: ``close`` is the server's close frame, if it sent one."""

    def __init__(self, close: Close | None) -> None:
        super().__init__(str(close))
        self.close = close


class LongPollTransport:
    """One long-poll session, from the report holding ``hello`` until it drops or is closed."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        user_agent: str,
        wait: float = 25.0,
        request_timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._wait = wait
        self._client = client or httpx.AsyncClient(
            base_url=device_http_base(server),
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
            timeout=httpx.Timeout(request_timeout + wait, connect=request_timeout),
        )
        self._session: str | None = None
        self._cursor: int | None = None
        self._outgoing: list[str] = []
        self._outgoing_ready = asyncio.Event()
        self._incoming: deque[str] = deque()
        self._incoming_ready = asyncio.Event()
        self._opened = asyncio.Event()
        self.close_rcvd: Close | None = None
        """The server's close code and reason, as websockets' ``protocol.close_rcvd``."""
        self._close_sent: Close | None = None
        self._closed = asyncio.Event()
        self._sender = asyncio.create_task(self._send_loop(), name="longpoll-sender")
        self._poller = asyncio.create_task(self._poll_loop(), name="longpoll-poller")

    @property
    def session(self) -> str | None:
        return self._session

    # ------------------------------------------------------------------- socket surface

    async def send(self, message: str) -> None:
        """Queue a frame for the next report (sent in order, in the background)."""
        self._raise_if_closed()
        self._outgoing.append(message)
        self._outgoing_ready.set()

    async def recv(self) -> str:
        """The server's next frame; ConnectionClosed once the session is over."""
        while not self._incoming:
            self._raise_if_closed()
            self._incoming_ready.clear()
            closed = asyncio.ensure_future(self._closed.wait())
            ready = asyncio.ensure_future(self._incoming_ready.wait())
            try:
                await asyncio.wait({closed, ready}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closed.cancel()
                ready.cancel()
        return self._incoming.popleft()

    async def __aiter__(self) -> AsyncIterator[str]:
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """End the session: what is still queued goes out with the close, then both tasks stop."""
        try:
            if self._closed.is_set():
                return  # the server ended the session: nothing to tell it
            self._close_sent = Close(code, reason)
            self._closed.set()
            await self._stop_tasks()
            if self._session is not None:
                body = self._report_body(self._outgoing[:MAX_REPORT_FRAMES], close=code)
                with contextlib.suppress(httpx.HTTPError, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await self._client.post(DEVICE_REPORT_PATH, content=body, headers=_JSON)
        finally:
            await self._stop_tasks()
            await self._client.aclose()

    # ------------------------------------------------------------------------- loops

    def _raise_if_closed(self) -> None:
        if not self._closed.is_set():
            return
        rcvd, sent = self.close_rcvd, self._close_sent
        if (rcvd is not None and rcvd.code in _CLEAN) or (
            rcvd is None and sent is not None and sent.code in _CLEAN
        ):
            raise ConnectionClosedOK(rcvd, sent)
        raise ConnectionClosedError(rcvd, sent)

    def _drop(self, close: Close | None) -> None:
        if not self._closed.is_set():
            self.close_rcvd = close
            self._closed.set()
            self._incoming_ready.set()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in (self._sender, self._poller) if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send_loop(self) -> None:
        try:
            while True:
                if not self._outgoing:
                    self._outgoing_ready.clear()
                    await self._outgoing_ready.wait()
                    continue
                batch = self._batch()
                body = self._report_body(batch)
                answer = await self._request("POST", DEVICE_REPORT_PATH, content=body)
                del self._outgoing[: len(batch)]
                if self._session is None:
                    self._session = str(answer["session"])
                    self._opened.set()
        except _Dropped as exc:
            self._drop(exc.close)

    async def _poll_loop(self) -> None:
        try:
            await self._opened.wait()
            while True:
                params: dict[str, Any] = {"session": self._session, "wait": self._wait}
                if self._cursor is not None:
                    params["cursor"] = self._cursor
                answer = await self._request("GET", DEVICE_POLL_PATH, params=params)
                self._cursor = int(answer.get("cursor", 0))
                frames = answer.get("frames") or []
                for frame in frames:
                    self._incoming.append(json.dumps(frame, ensure_ascii=False))
                if frames:
                    self._incoming_ready.set()
                close = answer.get("close")
                if isinstance(close, dict):
                    raise _Dropped(_close_of(close))
        except _Dropped as exc:
            self._drop(exc.close)

    def _batch(self) -> list[str]:
        batch: list[str] = []
        size = 0
        for text in self._outgoing[:MAX_REPORT_FRAMES]:
            size += len(text.encode()) + 1
            if batch and size > MAX_REPORT_BYTES:
                break
            batch.append(text)
        return batch

    def _report_body(self, texts: list[str], close: int | None = None) -> str:
        # The frames are the codec's JSON texts already: joined, not parsed and encoded again.
        head = "{" if self._session is None else '{"session":' + json.dumps(self._session) + ","
        tail = "" if close is None else f',"close":{close}'
        return head + '"frames":[' + ",".join(texts) + "]" + tail + "}"

    async def _request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """One request, retried on a network error or a server error; the decoded answer."""
        if method == "POST":
            options["headers"] = _JSON
        for attempt, pause in enumerate((*_RETRY_DELAYS, None)):
            try:
                response = await self._client.request(method, path, **options)
            except httpx.HTTPError as exc:
                log.warning("long-poll %s failed: %s", path, exc)
            else:
                status = response.status_code
                if status in (_HTTP_UNAUTHORIZED, _HTTP_FORBIDDEN):
                    raise _Dropped(
                        Close(CLOSE_INVALID_TOKEN, f"{CLOSE_INVALID_TOKEN_REASON} (HTTP {status})")
                    )
                if status == _HTTP_NOT_FOUND:
                    log.info("the server no longer knows this long-poll session")
                    raise _Dropped(None)
                if status == _HTTP_GONE:
                    raise _Dropped(_close_of(_json(response).get("close")))
                if status < _HTTP_SERVER_ERROR and status != _HTTP_TOO_MANY:
                    if status >= 400:  # noqa: PLR2004 - a refusal retrying cannot fix
                        log.warning("long-poll %s refused: HTTP %d %s", path, status, response.text)
                        raise _Dropped(None)
                    return _json(response)
                log.warning("long-poll %s: HTTP %d (attempt %d)", path, status, attempt + 1)
            if pause is None:
                raise _Dropped(None)
            await asyncio.sleep(pause)
        raise _Dropped(None)  # pragma: no cover - the loop always raises or returns


_JSON = {"Content-Type": "application/json"}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _close_of(close: object) -> Close | None:
    if not isinstance(close, dict):
        return None
    code = close.get("code")
    reason = close.get("reason")
    if not isinstance(code, int):
        return None
    return Close(code, reason if isinstance(reason, str) else "")
