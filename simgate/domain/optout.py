"""Stop and start keywords: when a received SMS asks to stop (or start again) receiving texts.

Only a text that *is* a keyword counts: "STOP", "stop.", " Stop! " or "Arrêt" are requests,
"Stop by tomorrow at 5" is a conversation. Matching is deliberately forgiving of how phones and
people type a keyword (case, surrounding spaces, closing punctuation, accents), and strict about
everything else, since opting someone out by mistake silences a real customer.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from typing import Final

__all__ = [
    "DEFAULT_OPTIN_KEYWORDS",
    "DEFAULT_OPTOUT_KEYWORDS",
    "KeywordIntent",
    "intent_of",
    "keyword_form",
]

#: Texts that put their sender on the account's opt-out list (the carriers' usual set, and the
#: French "ARRET" that French operators require).
DEFAULT_OPTOUT_KEYWORDS: Final = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "ARRET",
)
#: Texts that take their sender off the list again.
DEFAULT_OPTIN_KEYWORDS: Final = ("START", "UNSTOP")

#: A keyword longer than this is not a keyword; it also bounds the work done per received SMS.
MAX_KEYWORD_CHARS: Final = 40


class KeywordIntent(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def keyword_form(text: str) -> str:
    """``text`` as keywords are compared: accents removed, case folded, surrounding white space
    and closing punctuation (``.``, ``!``, ``?``, ``…``) dropped. Idempotent."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    folded = plain.casefold()
    end = len(folded)
    while end and (folded[end - 1].isspace() or unicodedata.category(folded[end - 1])[0] == "P"):
        end -= 1
    return folded[:end].lstrip()


def intent_of(text: str, opt_out: Iterable[str], opt_in: Iterable[str]) -> KeywordIntent | None:
    """Whether the whole of ``text`` is one of the ``opt_out`` or ``opt_in`` keywords.

    Keywords are compared in :func:`keyword_form` on both sides, so ``"ARRET"`` configured
    matches ``"Arrêt !"`` received. A keyword in both lists counts as opt-out: keeping a number
    that asked to stop would be the worse mistake (the settings refuse such a list anyway).
    """
    if len(text) > 4 * MAX_KEYWORD_CHARS:  # padding aside, a long text is never a keyword
        return None
    form = keyword_form(text)
    if not form or len(form) > MAX_KEYWORD_CHARS:
        return None
    if form in {keyword_form(keyword) for keyword in opt_out}:
        return KeywordIntent.OPT_OUT
    if form in {keyword_form(keyword) for keyword in opt_in}:
        return KeywordIntent.OPT_IN
    return None
