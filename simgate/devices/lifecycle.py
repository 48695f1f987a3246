"""The lifecycle of one device connection, as an explicit state machine.

::

    connecting -> live | closing | closed
    live       -> closing | closed
    closing    -> closed
    closed                                  final

Only a live session takes work from the dispatcher. A session is *connecting* from the socket's
accept until its ``hello`` is stored and what the device already held is handed over again;
*closing* once it was replaced by a newer connection of the same device, the device was deleted,
or the device went silent; *closed* once its read loop has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class SessionState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    CLOSING = "closing"
    CLOSED = "closed"


_S = SessionState

SESSION_TRANSITIONS: Mapping[SessionState, frozenset[SessionState]] = MappingProxyType(
    {
        _S.CONNECTING: frozenset({_S.LIVE, _S.CLOSING, _S.CLOSED}),
        _S.LIVE: frozenset({_S.CLOSING, _S.CLOSED}),
        _S.CLOSING: frozenset({_S.CLOSED}),
        _S.CLOSED: frozenset(),
    }
)


class IllegalSessionTransition(RuntimeError):
    """A programming error: a session was asked to make a move its lifecycle does not allow."""


def next_state(current: SessionState, wanted: SessionState) -> SessionState:
    """``wanted`` if the table allows it from ``current``; staying put is allowed (a no-op)."""
    if wanted is current or wanted in SESSION_TRANSITIONS[current]:
        return wanted
    raise IllegalSessionTransition(f"device session cannot go from {current} to {wanted}")
