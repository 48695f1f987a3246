"""Where a device finds the server: the device WebSocket URL for a server base URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from simgate.protocol._constants import DEVICE_WS_PATH


def device_ws_url(server: str) -> str:
    """The device WebSocket URL for a server base URL.

    ``http://host:port`` becomes ``ws://host:port/device/ws`` and ``https://`` becomes
    ``wss://``; a base path (a server behind a reverse proxy under ``/simgate``) is kept in front
    of ``/device/ws``. A ``ws://``/``wss://`` URL is taken as given, gaining ``/device/ws`` only
    when it has no path, so an operator can point the agent at an unusual endpoint.
    Raises ``ValueError`` for anything else, because a typo here would otherwise only show up as
    an endless reconnect loop.
    """
    parts = urlsplit(server.strip())
    scheme = parts.scheme.lower()
    if not parts.hostname:
        raise ValueError(f"server URL {server!r} has no host")
    if scheme in ("ws", "wss"):
        path = parts.path if parts.path not in ("", "/") else DEVICE_WS_PATH
        return urlunsplit((scheme, parts.netloc, path, parts.query, ""))
    if scheme in ("http", "https"):
        path = parts.path.rstrip("/") + DEVICE_WS_PATH
        return urlunsplit(("ws" if scheme == "http" else "wss", parts.netloc, path, "", ""))
    raise ValueError(f"server URL {server!r} must start with http://, https://, ws:// or wss://")
