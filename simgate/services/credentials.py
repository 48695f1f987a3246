"""Making and checking secrets: API keys, device tokens and passwords.

Keys and tokens carry at least 192 random bits, so a plain SHA-256 digest is a safe way to store
them (nothing to brute-force) and lets the store find a key by its digest in one indexed lookup.
Passwords are low-entropy and get Argon2id. The clear value is shown once, to its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Secret:
    """A freshly made secret: ``value`` goes to its owner once, the rest to the store."""

    value: str
    prefix: str
    digest: str


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_digest(stored: str, candidate: str) -> bool:
    """Constant-time comparison, so timing never says how much of a digest matched."""
    return hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii"))


def new_api_key() -> Secret:
    # 48 hex characters: looks like the reference service's keys, which clients may validate.
    value = secrets.token_hex(24)
    return Secret(value=value, prefix=value[:8], digest=digest(value))


def new_device_token() -> Secret:
    value = "sgd_" + secrets.token_urlsafe(32)
    return Secret(value=value, prefix=value[:12], digest=digest(value))


def new_device_sid() -> str:
    return secrets.token_hex(8)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
