"""The life cycle of an outgoing message, as an explicit transition table.

::

    scheduled  -> queued | cancelled
    queued     -> dispatched | expired | cancelled | failed
    dispatched -> sent | failed | queued      (queued: lease expired or device gone)
    failed     -> queued                      (automatic retry or manual resend)
    sent, expired, cancelled                  terminal

Keeping the table as data (rather than scattered ``if`` statements) lets the store, the
dispatcher and the API agree on one rule set and lets tests check every pair of states.
FAILED is deliberately *not* terminal: an operator error may be retried automatically and a
user may resend, both of which go back through QUEUED so dispatch has a single entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from simgate.domain.errors import IllegalTransition

__all__ = [
    "INITIAL",
    "MAX_AUTO_RETRIES",
    "RETRY_BASE_DELAY",
    "RETRY_DELAY_CAP",
    "RETRY_FACTOR",
    "TERMINAL",
    "TRANSITIONS",
    "MessageState",
    "can_transition",
    "check_transition",
    "retry_delay",
    "sources",
]


class MessageState(StrEnum):
    """Where a message is in its life; the string values are stored and shown in the API."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


_S = MessageState

TRANSITIONS: Mapping[MessageState, frozenset[MessageState]] = MappingProxyType(
    {
        # Waiting for its send time; the user may still cancel it, and it fails without
        # leaving the server when no device can ever carry it (its device was deleted).
        _S.SCHEDULED: frozenset({_S.QUEUED, _S.CANCELLED, _S.FAILED}),
        # Waiting for a device. It may be handed out, time out, be cancelled, or fail
        # without ever leaving the server (e.g. no device can serve its recipient).
        _S.QUEUED: frozenset({_S.DISPATCHED, _S.EXPIRED, _S.CANCELLED, _S.FAILED}),
        # A device holds a lease on it. Back to QUEUED when the lease runs out or the device
        # disappears, so another device can pick it up.
        _S.DISPATCHED: frozenset({_S.SENT, _S.FAILED, _S.QUEUED}),
        # Retry (automatic, for operator errors) or manual resend.
        _S.FAILED: frozenset({_S.QUEUED}),
        _S.SENT: frozenset(),
        _S.EXPIRED: frozenset(),
        _S.CANCELLED: frozenset(),
    }
)
"""Allowed moves: ``dst in TRANSITIONS[src]``. Read-only so no caller can widen it."""

_SOURCES: Mapping[MessageState, frozenset[MessageState]] = MappingProxyType(
    {dst: frozenset(src for src, out in TRANSITIONS.items() if dst in out) for dst in MessageState}
)

TERMINAL: frozenset[MessageState] = frozenset(s for s, out in TRANSITIONS.items() if not out)
"""States with no way out (SENT, EXPIRED, CANCELLED), derived from the table so it can't drift."""

INITIAL: frozenset[MessageState] = frozenset({_S.SCHEDULED, _S.QUEUED})
"""States a new message may be created in: scheduled for later, or queued for now."""


def can_transition(src: MessageState, dst: MessageState) -> bool:
    """Tell whether moving from ``src`` to ``dst`` is allowed (staying put is not a move)."""
    return dst in TRANSITIONS[src]


def sources(dst: MessageState) -> frozenset[MessageState]:
    """The states a message may move to ``dst`` from: the table read backwards.

    The store guards every state-changing UPDATE with ``state IN sources(dst)``, so no write can
    make a move the table does not allow, whatever its caller believed the state to be.
    """
    return _SOURCES[dst]


def check_transition(src: MessageState, dst: MessageState) -> None:
    """Raise :class:`IllegalTransition` unless ``src -> dst`` is in the table.

    Callers call this right before persisting a state change, so a bug or a race (say, a
    device reporting "sent" for a message the user already cancelled) surfaces as a 409
    instead of silently rewriting history.
    """
    if can_transition(src, dst):
        return
    src_v, dst_v = src.value, dst.value
    if src in TERMINAL:
        why = f"'{src_v}' is a final state"
    else:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[src]))
        why = f"from '{src_v}' a message can only become: {allowed}"
    raise IllegalTransition(f"Cannot change message state from '{src_v}' to '{dst_v}': {why}")


MAX_AUTO_RETRIES = 3
"""Automatic retries after an operator error before a message stays FAILED (the default of
``SIMGATE_RETRY_MAX``).

Transient network refusals usually clear within minutes; past three tries with growing gaps
the failure is most likely permanent (bad number, no credit) and retrying only costs money.
"""

RETRY_BASE_DELAY = 30.0
"""Delay in seconds before the first automatic retry."""

RETRY_FACTOR = 4.0
"""Growth of the delay per attempt: 30 s, 2 min, 8 min."""

RETRY_DELAY_CAP = 3600.0
"""Upper bound in seconds, so a caller that ignores MAX_AUTO_RETRIES never waits for days."""

_NO_OVERFLOW_ATTEMPTS = 64  # 4.0 ** 63 is still a finite float, far above the cap


def retry_delay(attempt: int, base: float = RETRY_BASE_DELAY) -> float:
    """Seconds to wait before automatic retry number ``attempt`` (1-based).

    Exponential backoff (30 s, 120 s, 480 s, ...) gives a congested cell or SMSC time to
    recover instead of hammering it, while the first retry still happens fast enough that the
    user barely notices. ``base`` is the first delay (an operator setting). Capped at
    :data:`RETRY_DELAY_CAP`. ``attempt`` below 1 is a
    programming error and raises ``ValueError``.
    """
    if attempt < 1:
        raise ValueError(f"retry attempt numbers start at 1, got {attempt}")
    # Huge attempt numbers would overflow a float; the cap is reached long before this anyway.
    if attempt > _NO_OVERFLOW_ATTEMPTS:
        return RETRY_DELAY_CAP
    return min(base * RETRY_FACTOR ** (attempt - 1), RETRY_DELAY_CAP)
