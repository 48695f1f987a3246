"""Fixed values of device protocol version 1: version, endpoint path, close codes."""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1
"""The version a peer announces in ``hello`` / ``welcome``."""

MAX_PROTOCOL: Final = 1000
"""Sanity bound on an announced version."""

DEVICE_WS_PATH: Final = "/device/ws"
"""Path of the device WebSocket endpoint, relative to the server's base URL."""

CLOSE_INVALID_TOKEN: Final = 4401
"""Close code the server uses for an unknown or revoked device token: the agent stops retrying."""

CLOSE_INVALID_TOKEN_REASON: Final = "invalid device token"  # noqa: S105 - a close reason

CLOSE_PROTOCOL_ERROR: Final = 4400
"""Close code the server uses for a device that broke the protocol (no or a bad ``hello``)."""

CLOSE_REPLACED: Final = 4409
"""Close code the server uses for a connection that a newer one with the same token replaced.

A phone whose network flapped opens a new socket before the server noticed the old one died;
the new connection wins and the old one is closed with this code, so exactly one session per
device receives work. An agent that sees it reconnects with its normal backoff.
"""

CLOSE_HEARTBEAT_TIMEOUT: Final = 4408
"""Close code the agent uses when the server has been silent for too long (then it reconnects)."""


ACKED_TYPES: Final[frozenset[str]] = frozenset(
    {"sent", "failed", "delivered", "received", "mobile_sent"}
)
"""Device frames that change server state: they carry an ``id`` and the server answers ``ack``."""
