"""A small HTTP/1.1 client that does one thing: POST a webhook and read the start of the answer.

Why not httpx, as everywhere else: measured on this project's benchmark, one POST through
httpx cost about 1.3 ms of CPU, over a third of the server's time at 500 webhook events/s, and
the server could not keep up. A webhook POST needs little of a general client: no redirects
(never followed), no cookies, no proxies, no compression, no HTTP/2. This one keeps idle
keep-alive connections per origin, writes the request in one go, and reads the status, the
headers and at most ``keep`` bytes of the body; a body it does not read to the end costs the
connection (closed, not reused), never memory. TLS uses the system's default context.

Every failure to get an answer (refused, reset, timed out, a reply that is not HTTP) is a
:class:`PostError` with a short reason that never contains the URL's query or the payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

#: Longest status line plus headers read from a receiver.
MAX_HEAD: Final = 64 * 1024
#: Most body bytes read to keep a connection reusable; past that it is closed instead.
MAX_DRAIN: Final = 64 * 1024
#: Idle connections kept per origin.
MAX_IDLE: Final = 32
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: Informational answers (1xx) precede the real one.
INFORMATIONAL: Final = range(100, 200)


class PostError(Exception):
    """No usable answer: the reason, short and free of secrets."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Poster:
    """Posts to any http(s) URL with pooled keep-alive connections; one per process."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], *, keep: int) -> Answer:
        """POST ``body``; the status and the first ``keep`` bytes of the answer's body."""
        origin, target, host_header = _parse(url)
        head = _request_head(target, host_header, headers, len(body))
        try:
            async with asyncio.timeout(self._timeout):
                connection = self._take(origin)
                if connection is not None:
                    try:
                        return await self._exchange(origin, connection, head + body, keep)
                    except (ConnectionError, asyncio.IncompleteReadError):
                        # An idle connection the receiver had closed meanwhile: once more,
                        # on a new one (receivers dedupe by event id if it did get through).
                        pass
                connection = await self._open(origin)
                return await self._exchange(origin, connection, head + body, keep)
        except TimeoutError:
            raise PostError(f"timeout after {self._timeout:g} s") from None
        except asyncio.IncompleteReadError:
            raise PostError("the connection closed before a complete answer") from None
        except ssl.SSLError as exc:
            raise PostError(f"TLS error: {exc.reason or type(exc).__name__}") from None
        except OSError as exc:
            raise PostError(
                f"{type(exc).__name__}: {exc.strerror or 'connection failed'}"
            ) from None

    async def __aenter__(self) -> Poster:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.writer.is_closing() and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    def _give_back(self, origin: _Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE:
            idle.append(connection)
        else:
            connection.close()

    async def _open(self, origin: _Origin) -> _Connection:
        tls: ssl.SSLContext | None = None
        if origin.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        reader, writer = await asyncio.open_connection(
            origin.host,
            origin.port,
            ssl=tls,
            server_hostname=origin.host if tls is not None else None,
            limit=MAX_HEAD,
        )
        return _Connection(reader, writer)

    async def _exchange(
        self, origin: _Origin, connection: _Connection, request: bytes, keep: int
    ) -> Answer:
        connection.used = True
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            status, fields, version = await _read_head(connection.reader)
            while status in INFORMATIONAL:
                status, fields, version = await _read_head(connection.reader)
            body, complete = await _read_body(connection.reader, fields, keep)
        except BaseException:  # timed out, cancelled, reset, garbled: never reused
            connection.close()
            raise
        reusable = (
            complete
            and version == "HTTP/1.1"
            and "close" not in fields.get("connection", "").lower()
        )
        if reusable:
            self._give_back(origin, connection)
        else:
            connection.close()
        return Answer(status=status, body=body)


def _parse(url: str) -> tuple[_Origin, str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise PostError("only http and https URLs with a host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise PostError("invalid port") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Origin(scheme, host, port), target, host_header


def _request_head(target: str, host: str, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {length}"]
    lines.extend(
        f"{name}: {value}"
        for name, value in headers.items()
        if name.lower() not in ("host", "content-length", "connection", "transfer-encoding")
    )
    for line in lines:
        if "\r" in line or "\n" in line:
            raise PostError("a header contains a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], str]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise PostError("the answer's headers are too long") from None
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise PostError("the answer is not HTTP/1.x")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return int(code), fields, version


async def _read_body(
    reader: asyncio.StreamReader, fields: Mapping[str, str], keep: int
) -> tuple[bytes, bool]:
    """The first ``keep`` bytes, and whether the body was read to its end (connection reusable)."""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, keep)
    length_text = fields.get("content-length")
    if length_text is not None:
        if not length_text.isdigit():
            raise PostError("the answer's Content-Length is not a number")
        length = int(length_text)
        if length > MAX_DRAIN:
            return await reader.read(min(length, keep)), False
        return (await reader.readexactly(length))[:keep], True
    # Neither: the body ends when the receiver closes the connection.
    kept = await reader.read(keep)
    return kept, False


async def _read_chunked(reader: asyncio.StreamReader, keep: int) -> tuple[bytes, bool]:
    kept = bytearray()
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise PostError("the answer's chunked body is malformed") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(kept[:keep]), True
        total += size
        if total > MAX_DRAIN:
            return bytes(kept[:keep]), False
        chunk = await reader.readexactly(size + 2)
        if len(kept) < keep:
            kept += chunk[:-2]
