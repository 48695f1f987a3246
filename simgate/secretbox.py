"""Secrets at rest: ``seal(text) -> token`` and ``open(token) -> text`` with one server key.

Secrets that simgate must use again in clear (a webhook's signing secret, say) are stored
sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``): a stolen database alone
does not reveal them. The key comes from the ``SIMGATE_SECRET_KEY`` setting when set (a Fernet
key, or any text of 32+ characters, stretched with SHA-256), else from a key file: the setting
``SIMGATE_SECRET_KEY_FILE``, or ``simgate.key`` beside the SQLite database (in the working
directory for PostgreSQL). The file is created with mode 0600 on first use. Several servers on
one PostgreSQL database must share the key: set ``SIMGATE_SECRET_KEY`` on each of them.

The key is read lazily, on the first seal or open, so a process that never touches a secret
never creates a key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken

from simgate.config import Settings
from simgate.domain.errors import SecretUnreadable

KEY_FILE_NAME: Final = "simgate.key"
#: Shortest passphrase accepted as ``SIMGATE_SECRET_KEY`` when it is not a Fernet key itself.
MIN_PASSPHRASE_CHARS: Final = 32

__all__ = ["SecretBox", "key_file_for", "secret_box"]


class SecretBox:
    """Seals and opens short secrets with one key, loaded on first use."""

    def __init__(self, *, key: str | None = None, key_file: Path | None = None) -> None:
        if key is None and key_file is None:
            raise ValueError("a SecretBox needs a key or a key file")
        self._key = key
        self._key_file = key_file
        self._fernet: Fernet | None = None
        self._raw: bytes | None = None

    def seal(self, text: str) -> str:
        """``text`` encrypted and authenticated, as URL-safe ASCII."""
        return self._box().encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """The text sealed in ``token``; :class:`SecretUnreadable` if the key does not fit."""
        try:
            return self._box().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(
                "A stored secret cannot be opened with this server's key "
                "(SIMGATE_SECRET_KEY or the key file changed?)."
            ) from exc

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (signing cookies, say), derived from the server key:
        one stored secret serves every use, and no derived key reveals another or the server's.
        """
        self._box()
        if self._raw is None:  # set together with the box
            raise RuntimeError("the server key is not loaded")
        return hmac.new(self._raw, b"simgate:" + purpose.encode("utf-8"), hashlib.sha256).digest()

    def _box(self) -> Fernet:
        if self._fernet is None:
            raw = self._key if self._key is not None else _read_or_create(self._key_file)
            key = _fernet_key(raw)
            self._raw = base64.urlsafe_b64decode(key)
            self._fernet = Fernet(key)
        return self._fernet


def _fernet_key(raw: str) -> bytes:
    text = raw.strip()
    try:
        if len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32:  # noqa: PLR2004
            return text.encode("ascii")
    except (binascii.Error, ValueError, UnicodeError):
        pass  # not a Fernet key: a passphrase, stretched below
    if len(text) < MIN_PASSPHRASE_CHARS:
        raise ValueError(
            f"SIMGATE_SECRET_KEY must be a Fernet key or at least {MIN_PASSPHRASE_CHARS} characters"
        )
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("utf-8")).digest())


def _read_or_create(path: Path | None) -> str:
    if path is None:
        raise ValueError("no key file")
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes creating the key at once, one wins and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii")
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key.decode("ascii")


def key_file_for(settings: Settings) -> Path:
    """Where the key file lives when ``SIMGATE_SECRET_KEY`` is not set."""
    if settings.secret_key_file:
        return Path(settings.secret_key_file)
    url = settings.database_url
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        return Path(url.removeprefix(prefix).split("?")[0]).parent / KEY_FILE_NAME
    return Path(KEY_FILE_NAME)


def secret_box(settings: Settings) -> SecretBox:
    """The box for these settings: the configured key, else the key file."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return SecretBox(key=settings.secret_key.get_secret_value())
    return SecretBox(key_file=key_file_for(settings))
