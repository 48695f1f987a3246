"""Text to frame and back: one WebSocket message is one JSON object with a ``type``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from simgate.protocol._errors import ProtocolError
from simgate.protocol._fields import MAX_FRAME_BYTES, MAX_ID_LENGTH
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

_PARSERS: Final[dict[str, Callable[[Mapping[str, Any]], Frame]]] = {
    cls.TYPE: cls.from_dict
    for cls in (
        HelloFrame,
        WelcomeFrame,
        SendFrame,
        AcceptedFrame,
        SentFrame,
        FailedFrame,
        DeliveredFrame,
        ReceivedFrame,
        MobileSentFrame,
        AckFrame,
        StatusFrame,
        PingFrame,
        PongFrame,
        ErrorFrame,
    )
}


def parse_frame(data: object) -> Frame | UnknownFrame:
    """Validate an already-decoded JSON value as a frame (see :func:`decode_frame`)."""
    if not isinstance(data, dict):
        raise ProtocolError("invalid_frame", "a frame must be a JSON object")
    frame_type = data.get("type")
    if not isinstance(frame_type, str) or not frame_type:
        raise ProtocolError("invalid_frame", "a frame needs a string 'type'", field="type")
    parser = _PARSERS.get(frame_type)
    if parser is None:
        return UnknownFrame(type=frame_type, data=data)
    try:
        return parser(data)
    except ProtocolError as exc:
        # Tell the receiver which frame it refused, so that it can still acknowledge it.
        frame_id = data.get("id")
        exc.frame_type = frame_type
        if isinstance(frame_id, str) and 0 < len(frame_id) <= MAX_ID_LENGTH:
            exc.frame_id = frame_id if "\x00" not in frame_id else None
        raise


def decode_frame(text: str | bytes) -> Frame | UnknownFrame:
    """Parse one WebSocket message into a frame.

    Raises :class:`ProtocolError` for a message over :data:`MAX_FRAME_BYTES`, text that is not
    a JSON object, or a known frame with a wrongly typed or out-of-bounds field; returns
    :class:`UnknownFrame` for an unknown ``type`` (to be ignored). Extra keys are ignored so
    that later versions can add fields.
    """
    if isinstance(text, bytes):
        size = len(text)
    else:
        # A character is at most 4 bytes of UTF-8: only a long text needs encoding to measure.
        size = len(text)
        if size * 4 > MAX_FRAME_BYTES:
            size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME_BYTES:
        raise ProtocolError("frame_too_large", f"a frame must be at most {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError("invalid_json", f"frame is not valid JSON: {exc}") from None
    return parse_frame(data)


def encode_frame(frame: Frame) -> str:
    """Serialise a frame as compact JSON text (UTF-8 as is, no NaN) for one WebSocket message."""
    return json.dumps(frame.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
