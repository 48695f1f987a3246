"""Making and checking secrets: API keys, OAuth2 client secrets and access tokens, device tokens
and passwords.

Keys and tokens carry at least 192 random bits, so a plain SHA-256 digest is a safe way to store
them (nothing to brute-force) and lets the store find a key by its digest in one indexed lookup.
Passwords are low-entropy and get Argon2id. The clear value is shown once, to its owner.

Argon2 is slow on purpose (a good part of a second on a small server), so hashing and checking
a password run in a worker thread: on the event loop they would stall every request and device
connection of the process for that long. The C code releases the GIL, so the loop keeps running.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

PasswordCost = Literal["production", "test"]

_HASHERS: dict[PasswordCost, PasswordHasher] = {
    # argon2-cffi's defaults: RFC 9106's second recommended (low-memory) profile.
    "production": PasswordHasher(),
    # One pass over 64 KiB: the same algorithm and format, for suites creating many accounts.
    "test": PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
}


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


#: What every access token starts with: a Bearer value is looked up as a token or as an API key
#: by its look, in one query instead of two (API keys are hex and never contain ``_``).
ACCESS_TOKEN_PREFIX = "sgat_"  # noqa: S105 - a public marker, not a secret


def new_client_id() -> str:
    """A public OAuth2 client identifier (not a secret: it names the client)."""
    return "sgc_" + secrets.token_hex(12)


def new_client_secret() -> Secret:
    value = "sgcs_" + secrets.token_urlsafe(32)
    return Secret(value=value, prefix=value[:12], digest=digest(value))


def new_access_token() -> Secret:
    value = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return Secret(value=value, prefix=value[:12], digest=digest(value))


def new_device_token() -> Secret:
    value = "sgd_" + secrets.token_urlsafe(32)
    return Secret(value=value, prefix=value[:12], digest=digest(value))


def new_device_sid() -> str:
    return secrets.token_hex(8)


async def hash_password(password: str, cost: PasswordCost) -> str:
    """The Argon2id hash of ``password`` at ``cost``, computed off the event loop."""
    return await asyncio.to_thread(_HASHERS[cost].hash, password)


async def check_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``, checked off the event loop.

    The hash carries its own parameters, so a hash made at any cost checks the same way.
    """
    return await asyncio.to_thread(_verify, stored_hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHERS["production"].verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
