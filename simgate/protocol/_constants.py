"""Fixed values of device protocol version 1: version, endpoint path, close codes, channels."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

PROTOCOL_VERSION: Final = 1
"""The version a peer announces in ``hello`` / ``welcome``."""

DEVICE_WS_PATH: Final = "/device/ws"
"""Path of the device WebSocket endpoint, relative to the server's base URL."""

CLOSE_INVALID_TOKEN: Final = 4401
"""Close code the server uses for an unknown or revoked device token: the agent stops retrying."""

CLOSE_INVALID_TOKEN_REASON: Final = "invalid device token"  # noqa: S105 - a close reason

CLOSE_HEARTBEAT_TIMEOUT: Final = 4408
"""Close code the agent uses when the server has been silent for too long (then it reconnects)."""

Channel: TypeAlias = Literal["sms", "whatsapp", "both"]
CHANNELS: Final[frozenset[str]] = frozenset({"sms", "whatsapp", "both"})

ACKED_TYPES: Final[frozenset[str]] = frozenset({"sent", "failed", "received", "mobile_sent"})
"""Device frames that change server state: they carry an ``id`` and the server answers ``ack``."""
