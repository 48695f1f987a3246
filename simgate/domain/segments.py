"""SMS segment counting (GSM 03.38 / 3GPP TS 23.038).

An SMS carries 140 octets of user data. Text that fits the GSM 7-bit default alphabet is
packed as septets (160 per SMS); anything else is sent as UCS-2 (UTF-16, 70 code units).
Longer texts are split into concatenated parts whose user-data header eats 6 octets, leaving
153 septets or 67 code units per part. Operators bill per part and the gateway must
predict that number before sending, so the split here mirrors what phones do: a character
is never cut in half, i.e. a GSM escape sequence (2 septets) or a UTF-16 surrogate pair
(2 code units) always stays within one part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "GSM7_MULTI_PART",
    "GSM7_SINGLE",
    "MAX_MESSAGE_CHARS",
    "MAX_PARTS",
    "UCS2_MULTI_PART",
    "UCS2_SINGLE",
    "Encoding",
    "SegmentInfo",
    "count_segments",
    "is_gsm7",
]

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    # 0x1B (ESC) is left out: it is not a character but the switch to the extension table.
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""Characters of the GSM 7-bit default alphabet; each costs one septet."""

GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
"""Characters of the default extension table; each costs two septets (ESC + code)."""

GSM7_SINGLE = 160
"""Septets in a single, non-concatenated GSM-7 SMS."""

GSM7_MULTI_PART = 153
"""Septets per part of a concatenated GSM-7 SMS (7 septets go to the concatenation header)."""

UCS2_SINGLE = 70
"""UTF-16 code units in a single, non-concatenated UCS-2 SMS."""

UCS2_MULTI_PART = 67
"""UTF-16 code units per part of a concatenated UCS-2 SMS (3 go to the concatenation header)."""

MAX_PARTS = 30
"""Most parts the gateway will send for one message.

The concatenation header allows 255, but in practice phones and operators drop or garble
concatenated messages past a few dozen parts, and a runaway text would be billed part by
part. Thirty parts is well above any real conversational message.
"""

MAX_MESSAGE_CHARS = MAX_PARTS * GSM7_MULTI_PART
"""Longest accepted message text in characters (4590 = 30 parts of 153 septets).

Checked on the raw length before any segment arithmetic, so that an absurd input (say a 1 MB
body) is refused as an invalid parameter cheaply; the part count check then refines it.
"""


_BMP_MAX = 0xFFFF  # highest code point that UTF-16 encodes in a single code unit


@dataclass(frozen=True)
class SegmentInfo:
    """How a text would be sent: its encoding, number of SMS parts and encoded size.

    ``units`` is septets for GSM-7 (extension characters count 2) and UTF-16 code units for
    UCS-2 (characters outside the BMP, such as most emoji, count 2).
    """

    encoding: Encoding
    parts: int
    units: int


def is_gsm7(text: str) -> bool:
    """Tell whether every character of ``text`` is in the GSM-7 default or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _count_parts(costs: list[int], single: int, per_part: int) -> int:
    """Count parts for characters of the given costs, never splitting one character.

    A text that fits a single SMS needs no concatenation header and so gets the larger
    ``single`` capacity; otherwise parts are filled greedily with ``per_part`` units, which is
    what handsets and SMSCs do.
    """
    if sum(costs) <= single:
        return 1
    parts = 1
    used = 0
    for cost in costs:
        if used + cost > per_part:
            parts += 1
            used = 0
        used += cost
    return parts


def count_segments(text: str) -> SegmentInfo:
    """Return the encoding, part count and size of ``text`` as an SMS.

    GSM-7 is chosen whenever every character allows it, as phones do, because it fits more
    than twice as much text per part. An empty text is reported as one part (an empty SMS is
    still one SMS); callers refuse empty messages before they get here.
    """
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        parts = _count_parts(costs, GSM7_SINGLE, GSM7_MULTI_PART)
        return SegmentInfo(encoding="GSM-7", parts=parts, units=sum(costs))
    # Code points above the BMP need a surrogate pair; lone surrogates (possible in a Python
    # str) are one code unit each.
    costs = [2 if ord(ch) > _BMP_MAX else 1 for ch in text]
    parts = _count_parts(costs, UCS2_SINGLE, UCS2_MULTI_PART)
    return SegmentInfo(encoding="UCS-2", parts=parts, units=sum(costs))
