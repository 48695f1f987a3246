"""A webhook receiver on loopback for tests: a small asyncio HTTP/1.1 server in a thread.

It knows nothing of simgate: it records every POST (arrival time, headers, raw body), answers
with the statuses it is told to (then 200), or never answers at all (``hang=True``). The checks a
real receiver makes (signature, age, envelope, dedupe by event id) are in ``verify`` and
``accepted``, written from the published formula only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.contract import validate

V2_HEADERS = (
    "x-smsmobileapi-event",
    "x-smsmobileapi-event-id",
    "x-smsmobileapi-timestamp",
    "x-smsmobileapi-signature",
    "idempotency-key",
)


@dataclass
class Hit:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    #: The simgate server's clock when the POST arrived, if the test gave one.
    clock_ms: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    clock: Callable[[], int] | None = None
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        handlers = [task for task in self._handlers if not task.done()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                clock = None if self.clock is None else self.clock()
                with self._lock:
                    self.hits.append(Hit(time.monotonic(), path, headers, body, clock))
                    status = self.statuses.pop(0) if self.statuses else 200
                if self.hang:
                    await asyncio.sleep(3600)  # the client gives up first; cancelled at stop
                reply = f"answer {status}".encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\n\r\n".encode() + reply
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The published formula, computed here without simgate's code."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify(hit: Hit, secret: str, *, max_age: float = 300) -> dict[str, Any]:
    """What a careful V2 receiver checks; the envelope when all is well."""
    for name in V2_HEADERS:
        assert name in hit.headers, f"missing header {name}"
    timestamp = hit.headers["x-smsmobileapi-timestamp"]
    assert timestamp.isdigit()
    # "Now" is the sender's clock when the test moved it (tests skip hours of retry waits).
    now = time.time() if hit.clock_ms is None else hit.clock_ms / 1000
    assert abs(now - int(timestamp)) <= max_age
    expected = signature(secret, timestamp, hit.body)
    assert hmac.compare_digest(hit.headers["x-smsmobileapi-signature"], expected)
    envelope = hit.json()
    validate(envelope, "official.WebhookEnvelope")
    validate(dict(hit.headers), "official.WebhookHeaders")
    assert hit.headers["x-smsmobileapi-event"] == envelope["type"]
    assert hit.headers["x-smsmobileapi-event-id"] == envelope["id"]
    assert hit.headers["idempotency-key"] == envelope["id"]
    return envelope  # type: ignore[no-any-return]


def accepted(hits: Iterable[Hit], secret: str) -> list[dict[str, Any]]:
    """The distinct events, deduplicated by event id as a receiver must."""
    seen: dict[str, dict[str, Any]] = {}
    for hit in hits:
        envelope = verify(hit, secret)
        seen.setdefault(envelope["id"], envelope)
    return list(seen.values())
