"""The V2 signature: ``v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``.

The timestamp is signed with the body so that a captured request cannot be replayed later
than the receiver's tolerance (docs/webhooks.md shows a receiver rejecting anything older than
300 s). Every attempt is signed afresh, with its own timestamp; the body never changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SCHEME: Final = "v1"
#: Bytes of randomness in a new signing secret (256 bits; the minimum asked is 128).
SECRET_BYTES: Final = 32
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a visible prefix, not a secret


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 43 URL-safe characters."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-SMSMobileAPI-Signature`` for ``body`` sent at ``timestamp``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` at ``timestamp`` (constant time)."""
    return hmac.compare_digest(signature(secret, timestamp, body), header.strip())
