"""The ids and times a peer stamps on the frames it makes."""

from __future__ import annotations

import time
import uuid


def now_ms() -> int:
    """Current wall-clock time in Unix milliseconds, the unit of every ``at`` field."""
    return time.time_ns() // 1_000_000


def new_frame_id() -> str:
    """A fresh frame id (uuid4 hex): unique per device, so the server can de-duplicate by it."""
    return uuid.uuid4().hex


def format_phone_time(at_ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the phone's local time, as ``mobile_sent.formatted`` wants.

    The server shows this string as the phone showed it, so it is the device's local time and
    not UTC; ``at`` carries the unambiguous instant.
    """
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at_ms / 1000))
