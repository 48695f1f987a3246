"""Parsing the ``recipients`` parameter into E.164 numbers.

SMSMobileAPI clients send one or several numbers in a single string, in whatever spelling
their users typed. This module turns that string into a list of :class:`Recipient` values,
one per number, each either normalised to E.164 or carrying the reason it was refused, so a
request with one bad number among many can still send to the good ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult

from simgate.domain.errors import invalid, missing

__all__ = [
    "DEFAULT_MAX_RECIPIENTS",
    "MAX_E164_DIGITS",
    "Recipient",
    "normalize_number",
    "parse_recipients",
    "split_recipients",
]

MAX_E164_DIGITS = 15
"""ITU-T E.164 caps a full international number (country code included) at 15 digits."""

DEFAULT_MAX_RECIPIENTS = 1000
"""Default cap on numbers per request, so one call cannot fan out without bound."""

# Commas and semicolons as clients write lists; newlines and tabs as a column pasted from a
# spreadsheet arrives. Spaces stay inside one number ("0470 12 34 56").
_SEPARATORS = re.compile(r"[,;\r\n\t]")
# One or more spaces then a non-zero digit: an unencoded "+" that URL decoding turned into a
# space. A "+" can never precede 0 (no country code starts with 0), so " 0470..." is left as
# a national number with a stray space.
_LOST_PLUS = re.compile(r"^ +(?=[1-9])")
# Everything a human may put in a phone number that phonenumbers should see. Letters are
# excluded on purpose: phonenumbers would read "1-800-FLOWERS" as keypad digits and "ext."
# as an extension, neither of which an SMS can be sent to.
_ALLOWED = re.compile(r"\A\+?[0-9 .\-()]+\Z")
_DIGITS = re.compile(r"[0-9]")
_SHOWN_MAX = 32  # characters of a bad input quoted back in an error message


@dataclass(frozen=True)
class Recipient:
    """One piece of the ``recipients`` parameter and what became of it.

    Exactly one of ``e164`` (the normalised number) and ``error`` (why it was refused) is set,
    so callers can report per-number results without re-parsing ``raw``.
    """

    raw: str
    e164: str | None
    error: str | None

    def __post_init__(self) -> None:
        if (self.e164 is None) == (self.error is None):
            raise ValueError("a Recipient needs exactly one of e164 and error")

    @property
    def ok(self) -> bool:
        """True when the number was accepted and ``e164`` can be sent to."""
        return self.e164 is not None


def split_recipients(raw: str) -> list[str]:
    """Split the raw parameter on commas, semicolons, newlines and tabs into stripped,
    non-empty pieces.

    Clients that do not URL-encode the query string send ``+32470...`` which arrives as
    `` 32470...``; a piece that starts with spaces directly followed by a digit (1-9) gets
    its leading spaces replaced by ``+`` before stripping. Because ``"0470..., 0471..."`` is
    also a perfectly normal list typed by a human, the rule is applied to later pieces only
    when the *first* piece shows the symptom: only then do we know the client lost its plus
    signs. Otherwise a space after a comma would turn a national number such as a US
    ``2025550123`` into ``+20 2555...``, which is a possible Egyptian number.
    """
    pieces = _SEPARATORS.split(raw)
    lost_plus = _LOST_PLUS.match(pieces[0]) is not None
    out: list[str] = []
    for index, piece in enumerate(pieces):
        restored = _LOST_PLUS.sub("+", piece, count=1) if lost_plus or index == 0 else piece
        cleaned = restored.strip()
        if cleaned:
            out.append(cleaned)
    return out


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    """Parse with phonenumbers, mapping its exception to ``None``: a failure is just a miss."""
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _is_possible(number: PhoneNumber) -> bool:
    """Possible as a *complete* number, i.e. not merely a local number lacking its area code.

    ``phonenumbers.is_possible_number`` also accepts ``IS_POSSIBLE_LOCAL_ONLY``; such a number
    has no well-defined E.164 form, so sending to it would reach the wrong subscriber.
    """
    return phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE


def _shown(raw: str) -> str:
    """Quote ``raw`` for an error message, shortened so a huge input cannot bloat the reply."""
    text = raw.strip()
    return repr(text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "...")


#: Numbers remembered already parsed: a shop texts the same customers again and again, and
#: parsing was a seventh of the accept path's time. Bounded (a few MB at most).
NORMALIZED_CACHE = 65_536


@lru_cache(maxsize=NORMALIZED_CACHE)
def _normalize(raw: str, default_region: str) -> tuple[str | None, str | None]:
    """Return ``(e164, None)`` or ``(None, reason)``; shared by the raising and batch APIs.

    Pure (the metadata is fixed for a process), hence cached."""
    text = raw.strip()
    if not text:
        return None, "empty phone number"
    if not _ALLOWED.match(text):
        return None, f"{_shown(raw)} contains characters that are not part of a phone number"
    digits = "".join(_DIGITS.findall(text))
    international = text.startswith("+") or digits.startswith("00")
    significant = digits[2:] if digits.startswith("00") and not text.startswith("+") else digits
    if len(significant) > MAX_E164_DIGITS:
        return None, f"{_shown(raw)} has more than {MAX_E164_DIGITS} digits"

    if international:
        # "00" is the international prefix in most of the world; reading it explicitly keeps
        # "0032..." working even when the default region dials abroad with something else.
        # A written country code is the sender's explicit choice: a number that is merely
        # possible (right length) is accepted, since gateways must not refuse ranges allocated
        # after the installed metadata was published, nor fictional test ranges (+1 555).
        chosen = _parse("+" + significant, None)
        reason = f"{_shown(raw)} is not a possible phone number"
    else:
        chosen = _national_or_international(text, digits, default_region.upper())
        reason = (
            f"{_shown(raw)} is not a possible phone number in region {default_region.upper()} "
            "(where numbers without + are read), nor a valid international number: write it "
            "with + and its country code, e.g. +15551234567"
        )
    if chosen is None or not _is_possible(chosen):
        return None, reason
    e164 = phonenumbers.format_number(chosen, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) - 1 > MAX_E164_DIGITS:
        return None, f"{_shown(raw)} has more than {MAX_E164_DIGITS} digits"
    return e164, None


def _national_or_international(text: str, digits: str, region: str) -> PhoneNumber | None:
    """A number written without ``+``: national in ``region`` when it is possible there;
    otherwise digits-only international (the WhatsApp-link convention, "32470123456") only
    when that reading is *valid*, since any 8 to 15 digits are a possible number in some
    country: "5551234567" in Belgium must not silently become a Brazilian +55 number."""
    national = _parse(text, region)
    if national is not None and _is_possible(national):
        return national
    abroad = _parse("+" + digits, None)
    if abroad is not None and phonenumbers.is_valid_number(abroad):
        return abroad
    return None


def normalize_number(raw: str, default_region: str) -> str:
    """Return ``raw`` as an E.164 number (``+32470123456``) or raise ``InvalidParameter``.

    Accepted spellings: ``+32470123456``, ``0032470123456``, a national number of
    ``default_region`` (``0470123456`` for ``"BE"``), digits-only international
    (``32470123456``) when that is a *valid* number and the digits are not a possible national
    number, each with optional spaces, dots, dashes and parentheses. Refused: empty strings,
    letters or other symbols, more than 15 digits, and numbers that are not *possible* (wrong
    length for their country). A possible but not *valid* number is accepted when it has its
    ``+`` or ``00`` prefix, or as a national number; see the implementation for why.
    ``default_region`` is an ISO 3166 alpha-2 code; an unknown one (e.g. ``"ZZ"``) means
    national spellings are refused.
    """
    e164, error = _normalize(raw, default_region)
    if e164 is None:
        raise invalid("recipients", error or f"{_shown(raw)} is not a possible phone number")
    return e164


def parse_recipients(
    raw: str, default_region: str, max_count: int = DEFAULT_MAX_RECIPIENTS
) -> list[Recipient]:
    """Split and normalise the ``recipients`` parameter, one :class:`Recipient` per number.

    Bad numbers do not fail the request: each carries its own error so the caller can send to
    the rest and report the others. Identical E.164 numbers (however spelled) are kept once,
    at their first position, so nobody is texted twice by one request. Refused pieces are all
    kept, since each deserves its own error line. Raises ``MissingParameter`` when there is no
    piece at all and ``InvalidParameter`` when there are more than ``max_count`` pieces; that
    check counts pieces before de-duplication and runs before any parsing, so an oversized
    request is refused cheaply.
    """
    pieces = split_recipients(raw)
    if not pieces:
        raise missing("recipients")
    if len(pieces) > max_count:
        raise invalid("recipients", f"at most {max_count} numbers per request")
    seen: set[str] = set()
    out: list[Recipient] = []
    for piece in pieces:
        e164, error = _normalize(piece, default_region)
        if e164 is not None:
            if e164 in seen:
                continue
            seen.add(e164)
        out.append(Recipient(raw=piece, e164=e164, error=error))
    return out
