"""What a webhook POST carries: the body and headers of one delivery attempt.

Bodies are built from the stored event alone (its id, type, times and data), so every retry of
a delivery sends the very same bytes; only the timestamp and signature headers change.

- V2: the envelope ``{id, type, api_version, created_at, occurred_at, data}`` and nothing else,
  with the ``X-SMSMobileAPI-*`` headers and ``Idempotency-Key`` (the event id).
- Legacy: ``{date, hour, time_received, message, number, guid}`` of a received SMS, as the
  reference service posts it; ``date`` and ``hour`` are when the server stored the SMS,
  ``time_received`` when the phone received it, all in the server's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import orjson

from simgate import __version__
from simgate.domain import timefmt
from simgate.domain.webhooks import API_VERSION, Format
from simgate.webhooks import signer

USER_AGENT = f"simgate-webhooks/{__version__}"


@dataclass(frozen=True)
class Event:
    """One stored event, as every delivery of it sends it."""

    id: str
    type: str
    created_ms: int
    occurred_ms: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]


def rfc3339(ms: int) -> str:
    """UTC with milliseconds and a ``Z``: ``2026-03-13T08:45:12.345Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def envelope(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "api_version": API_VERSION,
        "created_at": rfc3339(event.created_ms),
        "occurred_at": rfc3339(event.occurred_ms),
        "data": event.data,
    }


def legacy_body(event: Event, zone: tzinfo) -> dict[str, Any]:
    """The reference service's "SMS received" JSON from an ``sms.received`` event's data."""
    data = event.data
    received_ms = event.occurred_ms
    if isinstance(data.get("received_at"), str):
        received_ms = int(datetime.fromisoformat(data["received_at"]).timestamp() * 1000)
    return {
        "date": timefmt.date_str(event.created_ms, zone),
        "hour": timefmt.hour_str(event.created_ms, zone),
        "time_received": timefmt.datetime_str(received_ms, zone),
        "message": str(data.get("message", "")),
        "number": str(data.get("from", "")),
        "guid": str(data.get("guid", "")),
    }


def build(event: Event, fmt: Format, secret: str, *, now_ms: int, zone: tzinfo) -> Request:
    """The POST of one attempt at ``now_ms``."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if fmt is Format.LEGACY:
        return Request(body=orjson.dumps(legacy_body(event, zone)), headers=headers)
    body = orjson.dumps(envelope(event))
    timestamp = timefmt.unix_seconds(now_ms)
    headers.update(
        {
            "X-SMSMobileAPI-Event": event.type,
            "X-SMSMobileAPI-Event-ID": event.id,
            "X-SMSMobileAPI-Timestamp": str(timestamp),
            "X-SMSMobileAPI-Signature": signer.signature(secret, timestamp, body),
            "Idempotency-Key": event.id,
        }
    )
    return Request(body=body, headers=headers)
