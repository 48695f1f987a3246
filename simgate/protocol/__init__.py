"""Device protocol version 1: the JSON frames a device agent and the server exchange.

The server's WebSocket endpoint and the agent on a phone both import this package, so a frame's
shape is written down once instead of once per side. It therefore imports nothing of
simgate but the pure ``simgate.domain.channels``, and nothing outside the standard library
(``json``, not ``orjson``): the agent has to install on Termux, where no compiled wheel is
available, and must never pull server code in.

Every frame is a JSON object with a ``type`` field. :func:`decode_frame` turns text into one of
the frame classes (validating field types, ignoring extra keys) or into :class:`UnknownFrame`
for a type this version does not know, which both sides must ignore so that a newer peer can
add frames without breaking an older one. :func:`encode_frame` is the inverse.
``docs/device-protocol.md`` describes the conversation rules (acks, resends, GUID
de-duplication, close codes, reconnect policy).

This module is the protocol's public face: import every name from here, never from the private
modules behind it, which may move:

* ``_constants``: version, endpoint path, close codes, channels;
* ``_errors``: :class:`ProtocolError`;
* ``_stamps``: frame ids and timestamps; ``_urls``: :func:`device_ws_url`;
* ``_fields``: the readers that validate one field each; ``_frames``: the frame classes;
* ``_codec``: :func:`decode_frame`, :func:`parse_frame`, :func:`encode_frame`.
"""

from __future__ import annotations

from simgate.domain.channels import CHANNELS, Channel
from simgate.protocol._codec import decode_frame, encode_frame, parse_frame
from simgate.protocol._constants import (
    ACKED_TYPES,
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_INVALID_TOKEN,
    CLOSE_INVALID_TOKEN_REASON,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_REPLACED,
    DEVICE_WS_PATH,
    PROTOCOL_VERSION,
)
from simgate.protocol._errors import ProtocolError
from simgate.protocol._fields import MAX_FRAME_BYTES, MAX_ID_LENGTH, MAX_MS, MAX_TEXT
from simgate.protocol._frames import (
    AcceptedFrame,
    AckFrame,
    DeliveredFrame,
    ErrorFrame,
    FailedFrame,
    Frame,
    HelloFrame,
    MobileSentFrame,
    PingFrame,
    PongFrame,
    ReceivedFrame,
    SendFrame,
    SentFrame,
    StatusFrame,
    UnknownFrame,
    WelcomeFrame,
)
from simgate.protocol._pairing import PAIRING_SCHEME, pairing_string, read_pairing
from simgate.protocol._stamps import format_phone_time, new_frame_id, now_ms
from simgate.protocol._urls import device_ws_url

__all__ = [
    "ACKED_TYPES",
    "CHANNELS",
    "CLOSE_HEARTBEAT_TIMEOUT",
    "CLOSE_INVALID_TOKEN",
    "CLOSE_INVALID_TOKEN_REASON",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_REPLACED",
    "DEVICE_WS_PATH",
    "MAX_FRAME_BYTES",
    "MAX_ID_LENGTH",
    "MAX_MS",
    "MAX_TEXT",
    "PAIRING_SCHEME",
    "PROTOCOL_VERSION",
    "AcceptedFrame",
    "AckFrame",
    "Channel",
    "DeliveredFrame",
    "ErrorFrame",
    "FailedFrame",
    "Frame",
    "HelloFrame",
    "MobileSentFrame",
    "PingFrame",
    "PongFrame",
    "ProtocolError",
    "ReceivedFrame",
    "SendFrame",
    "SentFrame",
    "StatusFrame",
    "UnknownFrame",
    "WelcomeFrame",
    "decode_frame",
    "device_ws_url",
    "encode_frame",
    "format_phone_time",
    "new_frame_id",
    "now_ms",
    "pairing_string",
    "parse_frame",
    "read_pairing",
]
