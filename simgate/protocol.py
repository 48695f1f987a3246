"""Device protocol version 1: the JSON frames a device agent and the server exchange.

The server's WebSocket endpoint and the agent on a phone both import this module, so a frame's
shape is written down once instead of once per side. It therefore imports nothing else of
simgate and nothing outside the standard library (``json``, not ``orjson``): the agent has to
install on Termux, where no compiled wheel is available, and must never pull server code in.

Every frame is a JSON object with a ``type`` field. :func:`decode_frame` turns text into one of
the frame classes below (validating field types, ignoring extra keys) or into
:class:`UnknownFrame` for a type this version does not know, which both sides must ignore so
that a newer peer can add frames without breaking an older one. :func:`encode_frame` is the
inverse. ``docs/device-protocol.md`` describes the conversation rules (acks, resends, GUID
de-duplication, close codes, reconnect policy).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Literal, Self, TypeAlias, cast
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ACKED_TYPES",
    "CHANNELS",
    "CLOSE_HEARTBEAT_TIMEOUT",
    "CLOSE_INVALID_TOKEN",
    "CLOSE_INVALID_TOKEN_REASON",
    "DEVICE_WS_PATH",
    "PROTOCOL_VERSION",
    "AcceptedFrame",
    "AckFrame",
    "Channel",
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
    "parse_frame",
]

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

# Identifiers and free text are bounded so that a confused or hostile peer cannot make the
# other side store megabytes per field; the WebSocket frame size limit bounds the rest.
_MAX_ID_LENGTH: Final = 128
_MAX_SHORT_TEXT: Final = 256


class ProtocolError(ValueError):
    """A frame that is not valid protocol-1 JSON.

    ``code`` is short and stable (``invalid_json`` or ``invalid_frame``) so the server can put
    it straight into the ``error`` frame it answers with; the message says what was wrong.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def now_ms() -> int:
    """Current wall-clock time in Unix milliseconds, the unit of every ``at`` field."""
    return time.time_ns() // 1_000_000


def new_frame_id() -> str:
    """A fresh frame id (uuid4 hex): unique per device, so the server can de-duplicate by it."""
    return uuid.uuid4().hex


def format_phone_time(at_ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the phone's local time, as ``mobile_sent.formatted`` wants.

    The server shows this string as the phone showed it, so it is the device's local time and
    not UTC; ``at`` carries the unambiguous instant.
    """
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at_ms / 1000))


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


# --------------------------------------------------------------------------- field readers
# Each reader checks one field of a decoded JSON object and raises ProtocolError naming it, so
# a peer that sends garbage gets a precise error frame instead of a crash deep in a handler.


def _bad(frame_type: str, key: str, expected: str) -> ProtocolError:
    return ProtocolError("invalid_frame", f"{frame_type}.{key} must be {expected}")


def _is_int(value: object) -> bool:
    # bool is a subclass of int in Python, but true/false is never a valid number on the wire.
    return isinstance(value, int) and not isinstance(value, bool)


def _str(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    default: str | None = None,
    non_empty: bool = False,
    max_length: int | None = None,
) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _bad(frame_type, key, "a string")
    if non_empty and not value:
        raise _bad(frame_type, key, "a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise _bad(frame_type, key, f"at most {max_length} characters")
    return value


def _ident(data: Mapping[str, Any], frame_type: str, key: str) -> str:
    return _str(data, frame_type, key, non_empty=True, max_length=_MAX_ID_LENGTH)


def _int(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = data.get(key, default)
    if not _is_int(value):
        raise _bad(frame_type, key, "an integer")
    number = cast(int, value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _bad(frame_type, key, f"an integer in [{minimum}, {maximum}]")
    return number


def _opt_int(
    data: Mapping[str, Any], frame_type: str, key: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    if data.get(key) is None:
        return None
    return _int(data, frame_type, key, minimum=minimum, maximum=maximum)


def _ms(data: Mapping[str, Any], frame_type: str, key: str) -> int:
    # Accept 1.7e12 as well as 1700000000000: some JSON encoders write large integers as floats.
    value = data.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or cast(int, value) < 0:
        raise _bad(frame_type, key, "a non-negative integer (Unix milliseconds)")
    return cast(int, value)


def _bool(data: Mapping[str, Any], frame_type: str, key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _bad(frame_type, key, "true or false")
    return value


def _int_tuple(data: Mapping[str, Any], frame_type: str, key: str) -> tuple[int, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(_is_int(item) and item >= 0 for item in value):
        raise _bad(frame_type, key, "a list of non-negative integers")
    return tuple(value)


def _str_tuple(data: Mapping[str, Any], frame_type: str, key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(frame_type, key, "a list of strings")
    return tuple(value)


# --------------------------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True, kw_only=True)
class _Frame:
    """Common behaviour: every frame serialises as ``{"type": TYPE, <fields in order>}``."""

    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object for this frame, ``type`` first, tuples as lists."""
        data: dict[str, Any] = {"type": self.TYPE}
        for item in fields(self):
            value = getattr(self, item.name)
            data[item.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Validate a decoded JSON object; frames without fields need no checks."""
        return cls()


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloFrame(_Frame):
    """Device → server, first frame of every connection: who the device is and what it can do."""

    TYPE: ClassVar[str] = "hello"
    protocol: int = PROTOCOL_VERSION
    version: str
    driver: str
    sims: tuple[int, ...] = ()
    capabilities: tuple[str, ...] = ("sms",)
    battery: int | None = None
    signal: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            protocol=_int(data, t, "protocol", minimum=1),
            version=_str(data, t, "version", default="", max_length=_MAX_SHORT_TEXT),
            driver=_str(data, t, "driver", default="", max_length=_MAX_SHORT_TEXT),
            sims=_int_tuple(data, t, "sims"),
            capabilities=(
                _str_tuple(data, t, "capabilities") if "capabilities" in data else ("sms",)
            ),
            battery=_opt_int(data, t, "battery", minimum=0, maximum=100),
            signal=_opt_int(data, t, "signal", minimum=0, maximum=4),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WelcomeFrame(_Frame):
    """Server → device answer to ``hello``: the device's identity and the heartbeat period."""

    TYPE: ClassVar[str] = "welcome"
    protocol: int = PROTOCOL_VERSION
    sid: str
    label: str = ""
    heartbeat: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            protocol=_int(data, t, "protocol", default=PROTOCOL_VERSION, minimum=1),
            sid=_ident(data, t, "sid"),
            label=_str(data, t, "label", default=""),
            heartbeat=_int(data, t, "heartbeat", minimum=1),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendFrame(_Frame):
    """Server → device: transmit one message. ``guid`` identifies it across resends."""

    TYPE: ClassVar[str] = "send"
    guid: str
    to: str
    text: str
    sim: int | None = None
    channel: Channel = "sms"
    parts: int = 1

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        channel = _str(data, t, "channel", default="sms")
        if channel not in CHANNELS:
            raise _bad(t, "channel", '"sms", "whatsapp" or "both"')
        return cls(
            guid=_ident(data, t, "guid"),
            to=_str(data, t, "to", non_empty=True, max_length=_MAX_SHORT_TEXT),
            text=_str(data, t, "text"),
            sim=_opt_int(data, t, "sim", minimum=0),
            channel=cast(Channel, channel),
            parts=_int(data, t, "parts", default=1, minimum=1),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedFrame(_Frame):
    """Device → server, at once after ``send``: the device has the message (not an outcome)."""

    TYPE: ClassVar[str] = "accepted"
    guid: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(guid=_ident(data, cls.TYPE, "guid"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SentFrame(_Frame):
    """Device → server: the radio transmitted the message. Acked by ``id``."""

    TYPE: ClassVar[str] = "sent"
    id: str
    guid: str
    sim: int | None = None
    at: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=_ident(data, t, "id"),
            guid=_ident(data, t, "guid"),
            sim=_opt_int(data, t, "sim", minimum=0),
            at=_ms(data, t, "at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedFrame(_Frame):
    """Device → server: the message could not be sent.

    ``operator`` is true when the network refused it (worth retrying automatically) and false
    when retrying the same way cannot help or the outcome is unknown.
    """

    TYPE: ClassVar[str] = "failed"
    id: str
    guid: str
    error: str
    operator: bool = False
    at: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=_ident(data, t, "id"),
            guid=_ident(data, t, "guid"),
            error=_str(data, t, "error", default=""),
            operator=_bool(data, t, "operator", default=False),
            at=_ms(data, t, "at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFrame(_Frame):
    """Device → server: an SMS arrived on the phone. ``at`` is when the phone received it."""

    TYPE: ClassVar[str] = "received"
    id: str
    number: str
    text: str
    at: int
    sim: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=_ident(data, t, "id"),
            number=_str(data, t, "number", max_length=_MAX_SHORT_TEXT),
            text=_str(data, t, "text"),
            at=_ms(data, t, "at"),
            sim=_opt_int(data, t, "sim", minimum=0),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MobileSentFrame(_Frame):
    """Device → server: an SMS the owner typed on the phone itself (not sent through the API)."""

    TYPE: ClassVar[str] = "mobile_sent"
    id: str
    number: str
    text: str
    at: int
    formatted: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=_ident(data, t, "id"),
            number=_str(data, t, "number", max_length=_MAX_SHORT_TEXT),
            text=_str(data, t, "text"),
            at=_ms(data, t, "at"),
            formatted=_str(data, t, "formatted", default="", max_length=_MAX_SHORT_TEXT),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AckFrame(_Frame):
    """Server → device: the frame with this ``id`` is durably stored; drop it from the outbox."""

    TYPE: ClassVar[str] = "ack"
    id: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=_ident(data, cls.TYPE, "id"))


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusFrame(_Frame):
    """Device → server: battery or signal changed. Best effort: no id, no ack."""

    TYPE: ClassVar[str] = "status"
    battery: int | None = None
    signal: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            battery=_opt_int(data, t, "battery", minimum=0, maximum=100),
            signal=_opt_int(data, t, "signal", minimum=0, maximum=4),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PingFrame(_Frame):
    """Either direction: are you there? The peer answers ``pong``."""

    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True, kw_only=True)
class PongFrame(_Frame):
    """Either direction: answer to ``ping``."""

    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorFrame(_Frame):
    """Server → device: the device sent a frame the server could not use; nothing else happens."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            code=_str(data, t, "code", default="", max_length=_MAX_SHORT_TEXT),
            message=_str(data, t, "message", default=""),
        )


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A well-formed frame of a type this version does not know: log it at most, never fail."""

    type: str
    data: dict[str, Any] = field(repr=False)


Frame: TypeAlias = (
    HelloFrame
    | WelcomeFrame
    | SendFrame
    | AcceptedFrame
    | SentFrame
    | FailedFrame
    | ReceivedFrame
    | MobileSentFrame
    | AckFrame
    | StatusFrame
    | PingFrame
    | PongFrame
    | ErrorFrame
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
        raise ProtocolError("invalid_frame", "a frame needs a string 'type'")
    parser = _PARSERS.get(frame_type)
    if parser is None:
        return UnknownFrame(type=frame_type, data=data)
    return parser(data)


def decode_frame(text: str | bytes) -> Frame | UnknownFrame:
    """Parse one WebSocket message into a frame.

    Raises :class:`ProtocolError` for text that is not a JSON object or a known frame with a
    wrongly typed field; returns :class:`UnknownFrame` for an unknown ``type`` (to be ignored).
    Extra keys are ignored so that later versions can add fields.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("invalid_json", f"frame is not valid JSON: {exc}") from None
    return parse_frame(data)


def encode_frame(frame: Frame) -> str:
    """Serialise a frame as compact JSON text (UTF-8 as is, no NaN) for one WebSocket message."""
    return json.dumps(frame.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
