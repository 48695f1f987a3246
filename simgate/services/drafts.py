"""What each recipient's message says: the text as given, with its URLs shortened, or sealed.

Composition happens before a message is stored, so the stored text, its SMS parts and what the
radio sends are one and the same thing. Each recipient gets their own codes (one short link per
distinct URL per message, one sealed copy per message), so clicks and reads can be told apart.

Short links are bounded, so that one request cannot hold the database's write lock for long: at
most ``MAX_LINKS_PER_MESSAGE`` distinct URLs per message and ``MAX_LINKS_PER_REQUEST`` links in
all (distinct URLs times recipients). Past either bound the send is refused on ``shorturl``
rather than shortened in part: a message whose links are only half counted would mislead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain import guids
from simgate.domain.errors import invalid
from simgate.domain.segments import MAX_PARTS, SegmentInfo, count_segments
from simgate.services import links, sealing

#: Distinct URLs one message may have shortened: far more than an SMS carries in practice, yet
#: enough for a long text of links that only fits in 30 parts once they are shortened.
MAX_LINKS_PER_MESSAGE = 20
#: Short links one request may create: 1000 recipients with 5 links each, a send of about half a
#: second on SQLite (10 000 links would hold the write lock for a second or more).
MAX_LINKS_PER_REQUEST = 5000

#: The SMS an encrypted message becomes; the text itself only exists in the recipient's browser.
SEALED_NOTICE = (
    "You received an encrypted message. Open {url} and enter the key the sender gave you."
)


@dataclass(frozen=True)
class Draft:
    """One recipient's message before it is stored: its final text and what hangs off it."""

    guid: str
    recipient: str
    text: str
    segments: SegmentInfo
    links: list[tuple[str, str]] = field(default_factory=list)
    sealed: sealing.Sealed | None = None
    sealed_url: str | None = None


def segments_of(text: str) -> SegmentInfo:
    """The SMS parts of ``text``; more than ``MAX_PARTS`` is a 400 on ``message``."""
    segments = count_segments(text)
    if segments.parts > MAX_PARTS:
        raise invalid("message", f"at most {MAX_PARTS} SMS parts ({segments.encoding})")
    return segments


async def compose(
    conn: AsyncConnection,
    base_url: str,
    text: str,
    recipients: list[str],
    *,
    key: sealing.SealingKey | None,
    shorturl: bool,
) -> list[Draft]:
    """Each recipient's final text: sealed (with ``key``), or shortened, or as given."""
    if key is not None:
        # With encryption the URLs stay inside the ciphertext: a short link would store them
        # in clear, which sealing promises never to do.
        return await _sealed(conn, base_url, text, recipients, key)
    per_message = check_link_budget(text, len(recipients)) if shorturl else 0
    if per_message == 0:
        segments = segments_of(text)
        return [Draft(guids.new_guid(), recipient, text, segments) for recipient in recipients]
    # Every code has the same length and alphabet, so one trial rewrite tells whether the text
    # fits before thousands of codes are drawn for a message that will be refused anyway.
    segments_of(
        links.rewrite(text, base_url, iter(["0" * links.SHORT_CODE_LENGTH] * per_message)).text
    )
    pool = iter(
        await links.fresh_codes(conn, per_message * len(recipients), links.SHORT_CODE_LENGTH)
    )
    drafts = []
    for recipient in recipients:
        rewritten = links.rewrite(text, base_url, pool)
        drafts.append(
            Draft(
                guid=guids.new_guid(),
                recipient=recipient,
                text=rewritten.text,
                segments=segments_of(rewritten.text),
                links=rewritten.links,
            )
        )
    return drafts


def check_link_budget(text: str, recipients: int) -> int:
    """The distinct URLs of ``text`` to shorten; a 400 on ``shorturl`` past either bound."""
    per_message = links.count_distinct_urls(text)
    if per_message > MAX_LINKS_PER_MESSAGE:
        raise invalid(
            "shorturl",
            f"at most {MAX_LINKS_PER_MESSAGE} different links per message can be shortened; "
            f"this message has {per_message}",
        )
    if per_message * recipients > MAX_LINKS_PER_REQUEST:
        raise invalid(
            "shorturl",
            f"at most {MAX_LINKS_PER_REQUEST} short links per request "
            f"({per_message} links x {recipients} recipients); send to fewer recipients at once",
        )
    return per_message


async def _sealed(
    conn: AsyncConnection,
    base_url: str,
    text: str,
    recipients: list[str],
    key: sealing.SealingKey,
) -> list[Draft]:
    codes = await links.fresh_codes(conn, len(recipients), sealing.SEALED_CODE_LENGTH)
    drafts = []
    for recipient, code in zip(recipients, codes, strict=True):
        url = f"{base_url}/e/{code}"
        notice = SEALED_NOTICE.format(url=url)
        drafts.append(
            Draft(
                guid=guids.new_guid(),
                recipient=recipient,
                text=notice,
                segments=segments_of(notice),
                sealed=sealing.seal(key, code, text),
                sealed_url=url,
            )
        )
    return drafts


def link_rows(drafts: list[Draft], account_id: int, now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "account_id": account_id,
            "message_guid": draft.guid,
            "url": url,
            "clicks": 0,
            "created_ms": now_ms,
        }
        for draft in drafts
        for code, url in draft.links
    ]


def sealed_rows(drafts: list[Draft], account_id: int, now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "code": draft.sealed.code,
            "account_id": account_id,
            "message_guid": draft.guid,
            "salt": draft.sealed.salt,
            "iterations": draft.sealed.iterations,
            "nonce": draft.sealed.nonce,
            "ciphertext": draft.sealed.ciphertext,
            "created_ms": now_ms,
        }
        for draft in drafts
        if draft.sealed is not None
    ]
