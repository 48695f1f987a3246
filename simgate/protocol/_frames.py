"""The frame classes of device protocol version 1, one per ``type``, each validating itself.

A frame serialises as ``{"type": TYPE, <fields in order>}`` (:meth:`_Frame.to_dict`) and builds
itself from a decoded JSON object with the field readers of :mod:`simgate.protocol._fields`
(``from_dict``), ignoring extra keys so that a later version can add fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self, TypeAlias, cast

from simgate.domain.channels import CHANNELS, Channel
from simgate.protocol._constants import MAX_PROTOCOL, PROTOCOL_VERSION
from simgate.protocol._fields import (
    MAX_PARTS,
    MAX_SHORT_TEXT,
    MAX_SIM,
    invalid_field,
    read_bool,
    read_ident,
    read_int,
    read_int_tuple,
    read_ms,
    read_opt_bool,
    read_opt_int,
    read_str,
    read_str_tuple,
)


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
    charging: bool | None = None
    #: The device's own send limit, if it has one: at most ``rate_count`` per ``rate_seconds``
    #: (Android: 30 per 60 s per app). The server paces its sends under it.
    rate_count: int | None = None
    rate_seconds: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            protocol=read_int(data, t, "protocol", minimum=1, maximum=MAX_PROTOCOL),
            version=read_str(data, t, "version", default="", max_length=MAX_SHORT_TEXT),
            driver=read_str(data, t, "driver", default="", max_length=MAX_SHORT_TEXT),
            sims=read_int_tuple(data, t, "sims"),
            capabilities=(
                read_str_tuple(data, t, "capabilities") if "capabilities" in data else ("sms",)
            ),
            battery=read_opt_int(data, t, "battery", minimum=0, maximum=100),
            signal=read_opt_int(data, t, "signal", minimum=0, maximum=4),
            charging=read_opt_bool(data, t, "charging"),
            rate_count=read_opt_int(data, t, "rate_count", minimum=1, maximum=100_000),
            rate_seconds=read_opt_int(data, t, "rate_seconds", minimum=1, maximum=86_400),
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
            protocol=read_int(
                data, t, "protocol", default=PROTOCOL_VERSION, minimum=1, maximum=MAX_PROTOCOL
            ),
            sid=read_ident(data, t, "sid"),
            label=read_str(data, t, "label", default="", max_length=MAX_SHORT_TEXT),
            heartbeat=read_int(data, t, "heartbeat", minimum=1, maximum=86_400),
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
        channel = read_str(data, t, "channel", default="sms")
        if channel not in CHANNELS:
            raise invalid_field(t, "channel", '"sms", "whatsapp" or "both"')
        return cls(
            guid=read_ident(data, t, "guid"),
            to=read_str(data, t, "to", non_empty=True, max_length=MAX_SHORT_TEXT),
            text=read_str(data, t, "text"),
            sim=read_opt_int(data, t, "sim", maximum=MAX_SIM),
            channel=cast(Channel, channel),
            parts=read_int(data, t, "parts", default=1, minimum=1, maximum=MAX_PARTS),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedFrame(_Frame):
    """Device → server, at once after ``send``: the device has the message (not an outcome)."""

    TYPE: ClassVar[str] = "accepted"
    guid: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(guid=read_ident(data, cls.TYPE, "guid"))


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
            id=read_ident(data, t, "id"),
            guid=read_ident(data, t, "guid"),
            sim=read_opt_int(data, t, "sim", maximum=MAX_SIM),
            at=read_ms(data, t, "at"),
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
            id=read_ident(data, t, "id"),
            guid=read_ident(data, t, "guid"),
            error=read_str(data, t, "error", default="", max_length=MAX_SHORT_TEXT, truncate=True),
            operator=read_bool(data, t, "operator", default=False),
            at=read_ms(data, t, "at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveredFrame(_Frame):
    """Device → server: the operator's delivery report says the recipient's phone got a sent
    message, at ``at``. Acked by ``id``; only drivers that see delivery reports send it."""

    TYPE: ClassVar[str] = "delivered"
    id: str
    guid: str
    at: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=read_ident(data, t, "id"),
            guid=read_ident(data, t, "guid"),
            at=read_ms(data, t, "at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFrame(_Frame):
    """Device → server: an SMS arrived on the phone. ``at`` is when the phone received it.

    ``at`` may be left out (a modem that does not know): the server then uses its own clock,
    since refusing the frame would lose the SMS.
    """

    TYPE: ClassVar[str] = "received"
    id: str
    number: str
    text: str
    at: int | None = None
    sim: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            id=read_ident(data, t, "id"),
            number=read_str(data, t, "number", max_length=MAX_SHORT_TEXT),
            text=read_str(data, t, "text"),
            at=None if data.get("at") is None else read_ms(data, t, "at"),
            sim=read_opt_int(data, t, "sim", maximum=MAX_SIM),
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
            id=read_ident(data, t, "id"),
            number=read_str(data, t, "number", non_empty=True, max_length=MAX_SHORT_TEXT),
            text=read_str(data, t, "text"),
            at=read_ms(data, t, "at"),
            formatted=read_str(data, t, "formatted", default="", max_length=MAX_SHORT_TEXT),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AckFrame(_Frame):
    """Server → device: the frame with this ``id`` is durably stored; drop it from the outbox."""

    TYPE: ClassVar[str] = "ack"
    id: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(id=read_ident(data, cls.TYPE, "id"))


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusFrame(_Frame):
    """Device → server: battery or signal changed. Best effort: no id, no ack."""

    TYPE: ClassVar[str] = "status"
    battery: int | None = None
    signal: int | None = None
    charging: bool | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            battery=read_opt_int(data, t, "battery", minimum=0, maximum=100),
            signal=read_opt_int(data, t, "signal", minimum=0, maximum=4),
            charging=read_opt_bool(data, t, "charging"),
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
    field: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        t = cls.TYPE
        return cls(
            code=read_str(data, t, "code", default="", max_length=MAX_SHORT_TEXT),
            message=read_str(
                data, t, "message", default="", max_length=4 * MAX_SHORT_TEXT, truncate=True
            ),
            field=read_str(data, t, "field", default="", max_length=MAX_SHORT_TEXT),
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
    | DeliveredFrame
    | ReceivedFrame
    | MobileSentFrame
    | AckFrame
    | StatusFrame
    | PingFrame
    | PongFrame
    | ErrorFrame
)
