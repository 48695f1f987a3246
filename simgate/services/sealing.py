"""Sealed messages: ``encrypt_message=yes``, where the server keeps only ciphertext.

The sender gets a random passphrase once, in the ``/sendsms/`` answer, and passes it to the
recipient by another way; the SMS only carries a link to ``/e/<code>``, whose page derives the key
in the browser (WebCrypto) and decrypts there. The server never stores the passphrase, the key or
the plaintext, so a stolen database (or a curious operator) reveals nothing but lengths.

The scheme, mirrored exactly by ``simgate/web/sealed.js``:

- key = PBKDF2-HMAC-SHA256(passphrase normalised, salt of 16 random bytes, ITERATIONS) → 32 bytes
- ciphertext = AES-256-GCM(key, nonce of 12 random bytes, UTF-8 plaintext, aad) with the 16-byte
  tag appended (the layout WebCrypto expects), aad = ``simgate-sealed:v1:<code>`` so that a
  ciphertext cannot be moved under another code
- salt, nonce and ciphertext are stored and served as unpadded base64url

One request derives one key (the costly part) and seals each recipient's copy under its own code
and nonce, so sending to many recipients costs one derivation, not one per recipient.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from simgate.context import Context
from simgate.domain.errors import InvalidParameter, NotFound
from simgate.services.links import CODE_RE
from simgate.store import links as link_store

#: No 0/o, 1/i/l: the recipient copies the key from another message or a voice call.
PASSPHRASE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - an alphabet, no secret
#: 31**10 is about 2**49.5 guesses, each costing a full PBKDF2 run.
PASSPHRASE_LENGTH = 10
#: Above the 200 000 floor; about a tenth of a second in a browser or on the server.
ITERATIONS = 310_000
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
#: Codes of sealed messages are longer than short-link codes: they are the only thing between
#: a stranger and the ciphertext (which the passphrase then protects).
SEALED_CODE_LENGTH = 12
AAD_PREFIX = "simgate-sealed:v1:"

_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class SealingKey:
    """A key derived from a passphrase, with the salt and cost needed to derive it again."""

    key: bytes
    salt: bytes
    iterations: int


@dataclass(frozen=True)
class Sealed:
    """What is stored for one sealed message, and what the recipient's page downloads."""

    code: str
    salt: str
    iterations: int
    nonce: str
    ciphertext: str

    @property
    def aad(self) -> str:
        return AAD_PREFIX + self.code


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_passphrase() -> str:
    return "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(PASSPHRASE_LENGTH))


def normalize_passphrase(passphrase: str) -> str:
    """What the key is derived from: lower case, spaces and dashes removed (the page does too)."""
    return _SEPARATORS.sub("", passphrase).lower()


def derive(passphrase: str, salt: bytes, iterations: int = ITERATIONS) -> SealingKey:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=iterations)
    key = kdf.derive(normalize_passphrase(passphrase).encode("utf-8"))
    return SealingKey(key=key, salt=salt, iterations=iterations)


async def new_key(passphrase: str) -> SealingKey:
    """A fresh salt and the key it gives, derived off the event loop (it is CPU-bound)."""
    return await asyncio.to_thread(derive, passphrase, os.urandom(SALT_BYTES))


def seal(key: SealingKey, code: str, plaintext: str) -> Sealed:
    nonce = os.urandom(NONCE_BYTES)
    aad = (AAD_PREFIX + code).encode("ascii")
    ciphertext = AESGCM(key.key).encrypt(nonce, plaintext.encode("utf-8"), aad)
    return Sealed(
        code=code,
        salt=b64(key.salt),
        iterations=key.iterations,
        nonce=b64(nonce),
        ciphertext=b64(ciphertext),
    )


def unseal(sealed: Sealed, passphrase: str) -> str:
    """The plaintext; ``InvalidParameter`` for a wrong passphrase (the page's job, in Python)."""
    try:
        key = derive(passphrase, unb64(sealed.salt), sealed.iterations)
        plain = AESGCM(key.key).decrypt(
            unb64(sealed.nonce), unb64(sealed.ciphertext), sealed.aad.encode("ascii")
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise InvalidParameter("Wrong key: the message could not be decrypted.") from exc
    return plain.decode("utf-8")


async def sealed_message(ctx: Context, code: str) -> Sealed:
    """The stored ciphertext behind ``/e/<code>``; ``NotFound`` for an unknown code."""
    if CODE_RE.match(code) is None:
        raise NotFound("No such encrypted message.")
    async with ctx.db.connect() as conn:
        row = await link_store.sealed_by_code(conn, code)
    if row is None:
        raise NotFound("No such encrypted message.")
    return Sealed(
        code=str(row["code"]),
        salt=str(row["salt"]),
        iterations=int(row["iterations"]),
        nonce=str(row["nonce"]),
        ciphertext=str(row["ciphertext"]),
    )
