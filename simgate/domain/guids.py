"""Message identifiers.

A GUID is 40 lowercase hexadecimal characters (160 random bits). That is long enough that
identifiers can be generated anywhere (server, agent) without coordination and can double as
unguessable handles in URLs, and it matches the shape SMSMobileAPI clients already store.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["GUID_LENGTH", "GUID_RE", "is_guid", "new_guid"]

GUID_LENGTH = 40
"""Number of hex characters in a GUID (``secrets.token_hex(20)``)."""

GUID_RE: re.Pattern[str] = re.compile(r"\A[0-9a-f]{40}\Z")
"""Exact shape of a GUID; ``\\Z`` (not ``$``) so a trailing newline is not accepted."""


def new_guid() -> str:
    """Return a fresh GUID from the OS CSPRNG, so GUIDs cannot be predicted or enumerated."""
    return secrets.token_hex(GUID_LENGTH // 2)


def is_guid(value: str) -> bool:
    """Tell whether ``value`` has the exact GUID shape.

    Uppercase is refused on purpose: GUIDs are compared as plain strings everywhere, so
    accepting two spellings would let the same message appear under two keys.
    """
    return GUID_RE.match(value) is not None
