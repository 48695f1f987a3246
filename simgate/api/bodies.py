"""Response bodies of the compatible API, field for field as its clients read them."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from simgate.domain import timefmt
from simgate.domain.states import MessageState
from simgate.services.inbox import ReceivedSms
from simgate.services.messages import SendOutcome, SentMessage


def _whatsapp(channel: str) -> str:
    return "1" if channel in ("whatsapp", "both") else "0"


def send_result(outcome: SendOutcome, zone: ZoneInfo) -> dict[str, Any]:
    first = outcome.accepted[0]
    count = len(outcome.accepted)
    scheduled = first.schedule_ms is not None and first.schedule_ms > outcome.created_ms
    note = (
        f"{count} message(s) scheduled" if scheduled else f"{count} message(s) queued for sending"
    )
    result: dict[str, Any] = {
        "error": 0,
        "sent": "1",
        "id": first.guid,
        "ids": [message.guid for message in outcome.accepted],
        "note": note,
        "datetime": timefmt.iso_utc(outcome.created_ms),
        "datetimeLocal": timefmt.datetime_str(outcome.created_ms, zone),
        "port": first.port,
        "send_with_whatsapp": _whatsapp(first.channel),
        "encrypted": {"status": "0"},
        "recipients": [message.recipient for message in outcome.accepted],
        "parts": first.parts,
        "encoding": first.encoding,
        "schedule_timestamp": (
            timefmt.unix_seconds(first.schedule_ms) if first.schedule_ms is not None else None
        ),
    }
    if outcome.rejected:
        result["invalid"] = [
            {"recipient": recipient.raw, "error": recipient.error} for recipient in outcome.rejected
        ]
    return {"result": result}


def received_sms(sms: ReceivedSms, zone: ZoneInfo) -> dict[str, Any]:
    received = sms.received_ms
    added = sms.created_ms
    return {
        "id": sms.id,
        "sIdentifiantPhone": sms.device_sid,
        "timestamp_unix": timefmt.unix_seconds(received),
        "message": sms.text,
        "number": sms.number,
        "guid": sms.guid,
        "alias": sms.alias,
        "date": timefmt.date_str(added, zone),
        "hour": timefmt.hour_str(added, zone),
        "time_received": timefmt.datetime_str(received, zone),
        "read": 1 if sms.read else 0,
    }


def sent_sms(message: SentMessage, zone: ZoneInfo) -> dict[str, Any]:
    created = message.created_ms
    sent_ms = message.sent_ms
    schedule_ms = message.schedule_ms
    return {
        "guid": message.guid,
        "recipients": message.recipient,
        "message": message.text,
        "date": timefmt.datetime_str(created, zone),
        "timestamp_unix": timefmt.unix_seconds(created),
        "status": message.state,
        "error_api": message.error_api,
        "send_from_mobile": "1" if message.state == MessageState.SENT.value else "0",
        "send_from_mobile_erreur": message.error_mobile,
        "send_from_mobile_sIdentifiant": message.device_sid or "",
        "send_from_mobile_timestamp": (None if sent_ms is None else timefmt.unix_seconds(sent_ms)),
        "port": message.port,
        "sim": message.sent_sim,
        "send_with_whatsapp": _whatsapp(message.channel),
        "schedule_timestamp": None if schedule_ms is None else timefmt.unix_seconds(schedule_ms),
        "retries": message.retries,
        "parts": message.parts,
        "encoding": message.encoding,
    }


def sms_list(items: list[dict[str, Any]], *, empty_code: str = "") -> dict[str, Any]:
    """``{"result": {"error": "", "sms": [...]}}``; ``error`` is a code when nothing matched."""
    return {"result": {"error": "" if items else empty_code, "sms": items}}
