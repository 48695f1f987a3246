"""The pairing string: everything a new device needs to connect, in one line (and one QR code).

``simgate device add`` prints it; ``simgate agent --pair STRING`` reads it. It is a URI,
``simgate-pair:?server=<base URL>&token=<device token>``, so that a QR scanner shows it as one
recognisable thing and a person can still read the server address in it. The token in it is a
secret: treat the string (and the QR code) like the token itself.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlencode, urlsplit

from simgate.protocol._urls import device_ws_url

PAIRING_SCHEME: Final = "simgate-pair"
_MAX_LENGTH: Final = 2048


def pairing_string(server: str, token: str) -> str:
    """The one-line pairing string for ``server`` (a base URL) and a device ``token``."""
    device_ws_url(server)  # refuses a URL the agent could not use
    return f"{PAIRING_SCHEME}:?{urlencode({'server': server, 'token': token})}"


def read_pairing(text: str) -> tuple[str, str]:
    """``(server, token)`` from a pairing string; ``ValueError`` saying what is wrong."""
    text = text.strip()
    if len(text) > _MAX_LENGTH:
        raise ValueError("the pairing string is too long")
    parts = urlsplit(text)
    if parts.scheme != PAIRING_SCHEME:
        raise ValueError(f"a pairing string starts with {PAIRING_SCHEME}:")
    fields = parse_qs(parts.query, strict_parsing=False)
    server = (fields.get("server") or [""])[0].strip()
    token = (fields.get("token") or [""])[0].strip()
    if not server or not token:
        raise ValueError("the pairing string needs both a server and a token")
    device_ws_url(server)
    return server, token
