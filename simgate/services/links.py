"""Short links: the URLs of a message rewritten to ``<public_base_url>/s/<code>``, clicks counted.

The rewriting happens before the message is stored, so the stored text, its segment count and
what the radio sends are one and the same thing. Each distinct URL of each message gets its own
code (one row per URL per message; the same URL twice in a text shares its code): clicks can
then be told apart per recipient.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.context import Context
from simgate.domain.errors import NotFound
from simgate.store import links as link_store

#: Letters and digits only: no character that an SMS app could take for the end of a link.
CODE_ALPHABET = string.ascii_letters + string.digits
#: 62**8 is about 2**47 codes: enumerating them to discover other people's links is hopeless.
SHORT_CODE_LENGTH = 8
#: Codes of short links and sealed messages are at most this long (the column sizes allow 16).
CODE_RE = re.compile(r"\A[A-Za-z0-9]{8,16}\Z")

# A URL runs from its scheme to the first space, quote or angle bracket...
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# ... minus punctuation that ends the sentence around it rather than the URL itself.
_TRAILING = ".,;:!?'*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class Rewritten:
    """A text with its URLs replaced, and the (code, original URL) pairs, in text order."""

    text: str
    links: list[tuple[str, str]]


def _trim(url: str) -> str:
    """Drop trailing punctuation, and a closing bracket that has no opening one in the URL."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])
        if last in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def url_spans(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of every http(s) URL in ``text``."""
    spans = []
    for match in _URL.finditer(text):
        url = _trim(match.group(0))
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def count_distinct_urls(text: str) -> int:
    """How many different URLs ``text`` holds: the codes ``rewrite`` takes for it."""
    return len({text[start:end] for start, end in url_spans(text)})


def rewrite(text: str, base_url: str, codes: Iterator[str]) -> Rewritten:
    """Replace each URL of ``text`` by ``<base_url>/s/<code>``, taking codes from ``codes``.

    A URL that appears twice gets the same code both times: one link, one click count.
    """
    parts: list[str] = []
    links: list[tuple[str, str]] = []
    code_of: dict[str, str] = {}
    position = 0
    for start, end in url_spans(text):
        url = text[start:end]
        if url not in code_of:
            code_of[url] = next(codes)
            links.append((code_of[url], url))
        parts += [text[position:start], f"{base_url}/s/{code_of[url]}"]
        position = end
    parts.append(text[position:])
    return Rewritten(text="".join(parts), links=links)


def new_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


async def fresh_codes(conn: AsyncConnection, count: int, length: int) -> list[str]:
    """``count`` distinct random codes that no short link or sealed message uses yet.

    A clash is astronomically rare, but checking costs one query and turns a would-be 500 (a
    primary-key violation) into nothing at all.
    """
    codes: set[str] = set()
    while len(codes) < count:
        candidates = {new_code(length) for _ in range(count - len(codes))} - codes
        codes |= candidates - await link_store.codes_taken(conn, candidates)
    return sorted(codes)


async def follow(ctx: Context, code: str) -> str:
    """The URL behind a short link, counting the click; ``NotFound`` for an unknown code."""
    if CODE_RE.match(code) is None:
        raise NotFound("No such short link.")
    async with ctx.db.begin() as conn:
        url = await link_store.follow(conn, code)
    if url is None:
        raise NotFound("No such short link.")
    return url
