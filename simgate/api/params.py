"""Request parameters, the way SMSMobileAPI clients send them.

Clients put parameters in the query string, a form body (urlencoded or multipart) or a JSON
object, with GET or POST, and often mix them (a POST with everything in the query and an empty
JSON body). This module merges all of that into one flat ``str -> str`` mapping, body over query,
and is the only place that knows the wire formats. It reads the body itself so that an
oversized upload is refused before it is held in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from typing import TypeVar
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.types import Scope

from simgate.domain.errors import InvalidParameter, PayloadTooLarge, invalid, missing

T = TypeVar("T")

#: Longer digit strings cannot be a count, a SIM port or a UNIX time; they would only overflow.
MAX_INTEGER_DIGITS = 19
#: The one spelling of a whole number: ASCII digits with an optional leading minus. Not
#: ``str.isdigit`` (it accepts "²" and other digits ``int`` refuses), not ``int`` alone (it
#: accepts "1_000", "+5" and surrounding white space, and is quadratic on huge inputs).
_INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}")
#: Longest search text (keywords, filters): enough for any real search, and far below what makes
#: SQLite refuse a LIKE pattern ("LIKE or GLOB pattern too complex") or a scan slow.
MAX_SEARCH_CHARS = 200


def parse_integer(
    name: str, value: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as a whole number within the bounds; anything else is a 400 on ``name``."""
    if _INTEGER.fullmatch(value) is None:
        raise invalid(name, f"expected a whole number, got {value[:40]!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid(name, f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise invalid(name, f"must be at most {maximum}")
    return number


class Params:
    """Merged parameters with typed accessors. An empty value counts as absent."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self, name: str) -> str | None:
        """The value as sent, possibly empty; None when the parameter is absent."""
        return self._values.get(name)

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or not value.strip():
            return None
        return value

    def text(self, name: str) -> str | None:
        """Like ``get`` but with surrounding white space removed."""
        value = self.get(name)
        return None if value is None else value.strip()

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def choice(self, name: str, allowed: Mapping[str, T]) -> T | None:
        """Map a documented spelling to its meaning; anything else is a 400."""
        value = self.text(name)
        if value is None:
            return None
        if value not in allowed:
            spelled = ", ".join(repr(key) for key in allowed)
            raise invalid(name, f"expected one of {spelled}, got {value[:40]!r}")
        return allowed[value]

    def integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        return parse_integer(name, value, minimum=minimum, maximum=maximum)

    def search(self, name: str) -> str | None:
        """A search text (a keyword, a filter), trimmed; longer than ``MAX_SEARCH_CHARS`` is a 400.

        The bound keeps the work of one request small: a 100 KB keyword would otherwise become a
        LIKE pattern that SQLite refuses (a 500) and PostgreSQL scans with at length.
        """
        value = self.text(name)
        if value is not None and len(value) > MAX_SEARCH_CHARS:
            raise invalid(name, f"at most {MAX_SEARCH_CHARS} characters")
        return value


async def read_params(request: Request, max_bytes: int) -> Params:
    values = _query(request.scope.get("query_string", b""))
    body = await read_body(request, max_bytes) if _may_have_body(request.scope) else b""
    if body.strip():
        values.update(await _body_values(request, body))
    for name, value in values.items():
        if "\x00" in value:
            raise invalid(name, "contains a NUL character")
    return Params(values)


def _query(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidParameter("The query string is not valid UTF-8.") from exc
    return dict(pairs)


#: Request headers that frame a body in HTTP/1: without either, a request has none.
_BODY_FRAMING = (b"content-length", b"transfer-encoding")


def _may_have_body(scope: Scope) -> bool:
    """False for an HTTP/1 request without a body (most GETs), so it skips the body read.

    HTTP/2 and later frame bodies without these headers, so there a body is always read.
    """
    if scope.get("http_version") not in ("1.0", "1.1"):
        return True
    return any(name in _BODY_FRAMING for name, _value in scope["headers"])


def declared_too_large(content_length: str | None, max_bytes: int) -> bool:
    """Whether a ``Content-Length`` header announces more than ``max_bytes``.

    Only a well-formed length counts; anything else is left to the server (which refuses a
    malformed header) and to the byte count of ``read_body``.
    """
    if content_length is None:
        return False
    value = content_length.strip()
    return _INTEGER.fullmatch(value) is not None and int(value) > max_bytes


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with a 413 as soon as it is known to exceed ``max_bytes``.

    The stream is counted as it arrives, so a body without (or with a lying) Content-Length is
    refused without holding more than ``max_bytes`` of it.
    """
    if declared_too_large(request.headers.get("content-length"), max_bytes):
        raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"The request body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def _body_values(request: Request, body: bytes) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _multipart(request, body)
    if content_type == "application/json" or content_type.endswith("+json"):
        return _json(body)
    if content_type == "application/x-www-form-urlencoded":
        return _form(body)
    # No or an unexpected content type: read the body by its look.
    return _json(body) if body.lstrip()[:1] == b"{" else _form(body)


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidParameter("The request body is not valid UTF-8.") from exc
    return dict(pairs)


def _json(body: bytes) -> dict[str, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter("The request body is not valid JSON (or not UTF-8).") from exc
    if not isinstance(data, dict):
        raise InvalidParameter("The JSON body must be an object of parameters.")
    values: dict[str, str] = {}
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, list) and all(_scalar(item) for item in value):
            values[name] = ",".join(_as_text(item) for item in value)
        elif _scalar(value):
            values[name] = _as_text(value)
        else:
            raise invalid(name, "must be a string, a number or a list of them")
    return values


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


async def _replay(body: bytes) -> AsyncGenerator[bytes, None]:
    """The body already read, as the one-chunk stream a form parser consumes."""
    yield body


async def _multipart(request: Request, body: bytes) -> dict[str, str]:
    try:
        form = await MultiPartParser(request.headers, _replay(body)).parse()
    except Exception as exc:  # the multipart parser raises several unrelated types
        raise InvalidParameter("The multipart body could not be read.") from exc
    try:
        return {
            name: value for name, value in form.multi_items() if not isinstance(value, UploadFile)
        }
    finally:
        # Uploaded files are spooled to temporary files; nothing here reads them.
        await form.close()
