"""How long a message may wait for a phone: its time to live (TTL).

A message that no phone has taken within its TTL is not worth sending any more (a one-time
code, a "your table is ready"), so it ends ``expired`` instead of going out hours or days late
when a phone finally comes back. The clock starts when the message may first be sent: at its
schedule time when it has one, else when it is stored; a resend starts it again. Once a phone
has been handed the message the TTL no longer applies: the phone may already have sent it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "MAX_TTL_SECONDS",
    "MIN_TTL_SECONDS",
    "REASON_PREFIX",
    "REASON_SUFFIX",
    "expires_at",
    "reason",
]

DEFAULT_TTL_SECONDS: Final = 86_400
"""One day: long enough to outlast a phone's night without power, short enough that a message
does not surprise its recipient days later."""

MIN_TTL_SECONDS: Final = 60
"""Below a minute a message would expire while a healthy phone is merely reconnecting."""

MAX_TTL_SECONDS: Final = 30 * 86_400
"""Thirty days: a longer wait is a message nobody is waiting for any more."""

REASON_PREFIX: Final = "expired: not handed to a phone within "
REASON_SUFFIX: Final = " s"
"""``error_api`` of an expired message is ``REASON_PREFIX + <ttl seconds> + REASON_SUFFIX``; the
store builds the same text in SQL, for every row at once."""


def expires_at(start_ms: int, ttl_seconds: int) -> int:
    """The moment (Unix ms) a message that may be sent from ``start_ms`` on expires."""
    return start_ms + ttl_seconds * 1000


def reason(ttl_seconds: int) -> str:
    """The ``error_api`` text of a message that expired after waiting ``ttl_seconds``."""
    return f"{REASON_PREFIX}{ttl_seconds}{REASON_SUFFIX}"
