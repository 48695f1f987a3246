"""Typed, immutable results of the SMSMobileAPI-compatible API, and how to read them.

Each class keeps the server's own field names where they are clear and gives Pythonic names
where they are not (``sIdentifiantPhone`` is ``device_sid``, ``send_from_mobile_erreur`` is
``error_mobile``). Every instance also keeps the JSON object it was read from in ``raw``, so a
field that a newer server adds is usable before this client learns its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simgate.client import _fields as f

__all__ = [
    "Conversation",
    "ConversationMessage",
    "Device",
    "FailedMessage",
    "MobileSentSms",
    "ReceivedSms",
    "RejectedRecipient",
    "SendResult",
    "SentSms",
]


def _from_unix(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def _from_iso(value: str | None) -> datetime | None:
    """An ISO 8601 time as a UTC datetime; None when absent or unreadable (informative only)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _raw() -> Any:
    return field(repr=False, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RejectedRecipient:
    """A recipient the server refused (not a phone number, ...); the others were still sent."""

    recipient: str
    error: str


@dataclass(frozen=True, slots=True)
class FailedMessage:
    """A message that was stored but failed at once (WhatsApp asked, no device declares it)."""

    guid: str
    recipient: str
    error: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """What ``/sendsms/`` accepted: one message (one GUID) per valid recipient."""

    id: str
    """The first message's GUID (the reference API's ``id``)."""
    guids: tuple[str, ...]
    """Every message's GUID, in the order of ``recipients``."""
    recipients: tuple[str, ...]
    """The recipients as the server normalised them (E.164), when it says so."""
    rejected: tuple[RejectedRecipient, ...]
    failed: tuple[FailedMessage, ...]
    """Messages accepted (they have a GUID) that failed at once; see the sent log."""
    parts: int | None
    encoding: str | None
    """``GSM-7`` or ``UCS-2``."""
    port: int | None
    whatsapp: bool
    encrypted: bool
    encryption_key: str | None
    """The key the recipient needs to read an encrypted message; the server shows it once."""
    note: str
    created_at: datetime | None
    scheduled_at: datetime | None
    raw: Mapping[str, Any] = _raw()


def parse_send(body: Mapping[str, Any]) -> SendResult:
    result = f.mapping(body, "result")
    first = f.text(result, "id")
    ids = result.get("ids")
    guids = tuple(str(guid) for guid in ids) if isinstance(ids, list) and ids else (first,)
    recipients = result.get("recipients")
    invalid = f.mappings(result, "invalid") if result.get("invalid") is not None else []
    failed = f.mappings(result, "failed") if result.get("failed") is not None else []
    encrypted = result.get("encrypted")
    sealed: Mapping[str, Any] = encrypted if isinstance(encrypted, Mapping) else {}
    return SendResult(
        id=first,
        guids=guids,
        recipients=tuple(str(r) for r in recipients) if isinstance(recipients, list) else (),
        rejected=tuple(
            RejectedRecipient(recipient=f.text(item, "recipient"), error=f.text(item, "error"))
            for item in invalid
        ),
        failed=tuple(
            FailedMessage(
                guid=f.text(item, "id"),
                recipient=f.text(item, "recipient"),
                error=f.text(item, "error"),
            )
            for item in failed
        ),
        parts=f.opt_integer(result, "parts"),
        encoding=f.opt_text(result, "encoding"),
        port=f.opt_integer(result, "port"),
        whatsapp=f.flag(result, "send_with_whatsapp"),
        encrypted=f.flag(sealed, "status"),
        encryption_key=f.opt_text(sealed, "key") or f.opt_text(sealed, "passphrase"),
        note=f.opt_text(result, "note") or "",
        created_at=_from_iso(f.opt_text(result, "datetime")),
        scheduled_at=_from_unix(f.opt_integer(result, "schedule_timestamp")),
        raw=result,
    )


@dataclass(frozen=True, slots=True)
class ReceivedSms:
    """One SMS received on a phone of the account (``/getsms/``)."""

    id: int
    guid: str
    device_sid: str
    """The receiving phone (``sIdentifiantPhone``)."""
    number: str
    """The sender."""
    message: str
    alias: str | None
    read: bool
    """Read status in the API only (``/getsms/set-read/``), not on the phone."""
    timestamp_unix: int
    time_received: str | None
    """``YYYY-MM-DD HH:MM:SS`` in the server's time zone."""
    date: str | None
    hour: str | None
    raw: Mapping[str, Any] = _raw()

    @property
    def received_at(self) -> datetime:
        """When the phone received it, in UTC."""
        return datetime.fromtimestamp(self.timestamp_unix, tz=UTC)


def parse_received(item: Mapping[str, Any]) -> ReceivedSms:
    return ReceivedSms(
        id=f.integer(item, "id"),
        guid=f.text(item, "guid"),
        device_sid=f.opt_text(item, "sIdentifiantPhone") or "",
        number=f.text(item, "number"),
        message=f.text(item, "message"),
        alias=f.opt_text(item, "alias") or None,
        read=f.flag(item, "read"),
        timestamp_unix=f.integer(item, "timestamp_unix"),
        time_received=f.opt_text(item, "time_received"),
        date=f.opt_text(item, "date"),
        hour=f.opt_text(item, "hour"),
        raw=item,
    )


@dataclass(frozen=True, slots=True)
class SentSms:
    """One row of the sent log (``/log/sent/sms/``)."""

    guid: str
    recipient: str
    message: str
    status: str
    """simgate's state: ``scheduled``, ``queued``, ``dispatched``, ``sent``, ``failed``, ..."""
    date: str | None
    """``YYYY-MM-DD HH:MM:SS`` in the server's time zone."""
    timestamp_unix: int | None
    sent_from_mobile: bool
    """True once the phone has sent it (``send_from_mobile == "1"``)."""
    error_api: str
    error_mobile: str
    """The phone's error text (``send_from_mobile_erreur``); empty unless it failed."""
    device_sid: str | None
    port: int | None
    whatsapp: bool
    schedule_timestamp: int | None
    retries: int
    parts: int | None
    encoding: str | None
    raw: Mapping[str, Any] = _raw()

    @property
    def failed(self) -> bool:
        """Whether the API or the phone reported an error (a non-empty error field)."""
        return bool(self.error_api or self.error_mobile)

    @property
    def created_at(self) -> datetime | None:
        return _from_unix(self.timestamp_unix)

    @property
    def scheduled_at(self) -> datetime | None:
        return _from_unix(self.schedule_timestamp)


def parse_sent(item: Mapping[str, Any]) -> SentSms:
    return SentSms(
        guid=f.text(item, "guid"),
        recipient=f.text(item, "recipients"),
        message=f.text(item, "message"),
        status=f.opt_text(item, "status") or "",
        date=f.opt_text(item, "date"),
        timestamp_unix=f.opt_integer(item, "timestamp_unix"),
        sent_from_mobile=f.flag(item, "send_from_mobile"),
        error_api=f.opt_text(item, "error_api") or "",
        error_mobile=f.opt_text(item, "send_from_mobile_erreur") or "",
        device_sid=f.opt_text(item, "send_from_mobile_sIdentifiant") or None,
        port=f.opt_integer(item, "port"),
        whatsapp=f.flag(item, "send_with_whatsapp"),
        schedule_timestamp=f.opt_integer(item, "schedule_timestamp"),
        retries=f.opt_integer(item, "retries") or 0,
        parts=f.opt_integer(item, "parts"),
        encoding=f.opt_text(item, "encoding"),
        raw=item,
    )


@dataclass(frozen=True, slots=True)
class Device:
    """A phone or modem paired with the account (``/gateway/mobile/list/``)."""

    sid: str
    label: str
    phone_number: str | None
    online: bool
    last_seen: str | None
    battery: int | None
    signal: int | None
    version: str | None
    sims: tuple[Mapping[str, Any], ...] = field(hash=False)
    sent_today: int
    received_today: int
    raw: Mapping[str, Any] = _raw()


def parse_device(item: Mapping[str, Any]) -> Device:
    sims = item.get("sims")
    return Device(
        sid=f.opt_text(item, "sid") or f.text(item, "sIdentifiant"),
        label=f.opt_text(item, "label") or "",
        phone_number=f.opt_text(item, "phone_number") or None,
        online=f.flag(item, "online"),
        last_seen=f.opt_text(item, "last_seen"),
        battery=f.opt_integer(item, "battery"),
        signal=f.opt_integer(item, "signal"),
        version=f.opt_text(item, "version"),
        sims=tuple(sim for sim in sims if isinstance(sim, Mapping))
        if isinstance(sims, list)
        else (),
        sent_today=f.opt_integer(item, "sent_today") or 0,
        received_today=f.opt_integer(item, "received_today") or 0,
        raw=item,
    )


@dataclass(frozen=True, slots=True)
class ConversationMessage:
    """One SMS of a conversation, in either direction."""

    direction: str
    """``incoming`` (received) or ``outgoing`` (sent)."""
    message_id: str
    date: str
    """Display date ``YYYY-MM-DD HH:MM:SS``."""
    timestamp_utc: str
    message: str
    status: str
    mobile_sid: str
    raw: Mapping[str, Any] = _raw()

    @property
    def at(self) -> datetime | None:
        """``timestamp_utc`` as a UTC datetime (None if the server's value is unreadable)."""
        return _from_iso(self.timestamp_utc)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The SMS exchanged with one phone number, oldest first as the server orders them."""

    phone_number: str
    contact_alias: str | None
    messages: tuple[ConversationMessage, ...]
    raw: Mapping[str, Any] = _raw()


def parse_conversation(item: Mapping[str, Any]) -> Conversation:
    return Conversation(
        phone_number=f.text(item, "phone_number"),
        contact_alias=f.opt_text(item, "contact_alias") or None,
        messages=tuple(
            ConversationMessage(
                direction=f.text(message, "direction"),
                message_id=f.text(message, "message_id"),
                date=f.opt_text(message, "date") or "",
                timestamp_utc=f.opt_text(message, "timestamp_utc") or "",
                message=f.text(message, "message"),
                status=f.opt_text(message, "status") or "",
                mobile_sid=f.opt_text(message, "mobile_sid") or "",
                raw=message,
            )
            for message in f.mappings(item, "messages")
        ),
        raw=item,
    )


@dataclass(frozen=True, slots=True)
class MobileSentSms:
    """An SMS the user sent from the phone itself (``/log/sent/frommobile/``)."""

    device_sid: str
    number: str
    message: str
    mobile_date_ms: int
    mobile_date_formatted: str
    synchro_time: str
    raw: Mapping[str, Any] = _raw()

    @property
    def sent_at(self) -> datetime:
        """When the phone sent it, in UTC (from ``mobile_date_ms``)."""
        return datetime.fromtimestamp(self.mobile_date_ms / 1000, tz=UTC)


def parse_mobile_sent(item: Mapping[str, Any]) -> MobileSentSms:
    return MobileSentSms(
        device_sid=f.text(item, "sIdentifiant"),
        number=f.text(item, "number"),
        message=f.text(item, "message"),
        mobile_date_ms=f.integer(item, "mobile_date_ms"),
        mobile_date_formatted=f.opt_text(item, "mobile_date_formatted") or "",
        synchro_time=f.opt_text(item, "synchro_time") or "",
        raw=item,
    )
