"""Webhook events and deliveries, as pure data and rules (no I/O).

Event types are the V2 names of the reference service (its OpenAPI ``WebhookEnvelope``); a
message's events depend on its channel (an SMS message gives ``sms.*``, a WhatsApp one
``whatsapp.*``, a message sent both ways gives both). A delivery (one event for one endpoint)
moves through an explicit state table::

    pending    -> delivering                 (claimed by a worker, under a lease)
    delivering -> delivered | pending | dead (2xx; retry later; out of time)
    delivering -> delivering                 (its lease ran out: a worker died, another claims)
    dead       -> pending                    (redelivered by its owner)
    delivered                                terminal

The retry schedule is exponential with jitter and ends about a day after the event.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from simgate.domain.errors import IllegalTransition

#: The ``api_version`` of every V2 envelope: the reference OpenAPI document's version.
API_VERSION: Final = "2026-09-23"


class EventType(StrEnum):
    """The V2 event types simgate produces."""

    SMS_SUBMITTED = "sms.api.submitted"
    SMS_SENT = "sms.sent"
    SMS_FAILED = "sms.failed"
    SMS_RECEIVED = "sms.received"
    SMS_MOBILE_SENT = "sms.mobile.sent"
    WHATSAPP_SUBMITTED = "whatsapp.submitted"
    WHATSAPP_SENT = "whatsapp.sent"
    WHATSAPP_FAILED = "whatsapp.failed"


class Format(StrEnum):
    """How an endpoint wants its POSTs: the signed V2 envelope or the legacy received-SMS JSON."""

    V2 = "v2"
    LEGACY = "legacy"


#: What each format can carry: legacy receivers only ever knew "SMS received".
FORMAT_EVENTS: Final[Mapping[Format, frozenset[EventType]]] = MappingProxyType(
    {
        Format.V2: frozenset(EventType),
        Format.LEGACY: frozenset({EventType.SMS_RECEIVED}),
    }
)

_BY_CHANNEL: Final[Mapping[str, Mapping[str, tuple[EventType, ...]]]] = MappingProxyType(
    {
        "submitted": {
            "sms": (EventType.SMS_SUBMITTED,),
            "whatsapp": (EventType.WHATSAPP_SUBMITTED,),
            "both": (EventType.SMS_SUBMITTED, EventType.WHATSAPP_SUBMITTED),
        },
        "sent": {
            "sms": (EventType.SMS_SENT,),
            "whatsapp": (EventType.WHATSAPP_SENT,),
            "both": (EventType.SMS_SENT, EventType.WHATSAPP_SENT),
        },
        "failed": {
            "sms": (EventType.SMS_FAILED,),
            "whatsapp": (EventType.WHATSAPP_FAILED,),
            "both": (EventType.SMS_FAILED, EventType.WHATSAPP_FAILED),
        },
    }
)


def message_events(step: str, channel: str) -> tuple[EventType, ...]:
    """The event types of a message's ``step`` (submitted, sent, failed) on its channel."""
    return _BY_CHANNEL[step].get(channel, _BY_CHANNEL[step]["sms"])


def wanted_events(fmt: Format, names: Iterable[str] | None) -> frozenset[EventType]:
    """The events an endpoint of format ``fmt`` asks for; None or nothing means all it carries.

    Raises ``ValueError`` naming an unknown type or one the format cannot carry.
    """
    allowed = FORMAT_EVENTS[fmt]
    chosen = [name.strip() for name in names or () if name.strip()]
    if not chosen:
        return allowed
    result: set[EventType] = set()
    for name in chosen:
        try:
            event = EventType(name)
        except ValueError:
            known = ", ".join(sorted(allowed))
            raise ValueError(f"unknown event type {name[:60]!r}; known: {known}") from None
        if event not in allowed:
            raise ValueError(f"the {fmt.value} format cannot carry {event.value}")
        result.add(event)
    return frozenset(result)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


_TRANSITIONS: Final[Mapping[DeliveryState, frozenset[DeliveryState]]] = MappingProxyType(
    {
        DeliveryState.PENDING: frozenset({DeliveryState.DELIVERING}),
        DeliveryState.DELIVERING: frozenset(
            {
                DeliveryState.DELIVERING,
                DeliveryState.DELIVERED,
                DeliveryState.PENDING,
                DeliveryState.DEAD,
            }
        ),
        DeliveryState.DEAD: frozenset({DeliveryState.PENDING}),
        DeliveryState.DELIVERED: frozenset(),
    }
)


def delivery_sources(dst: DeliveryState) -> frozenset[DeliveryState]:
    """The states a delivery may move to ``dst`` from: the table read backwards."""
    return frozenset(src for src, targets in _TRANSITIONS.items() if dst in targets)


def check_delivery_transition(src: DeliveryState, dst: DeliveryState) -> None:
    """Raise :class:`IllegalTransition` unless ``src -> dst`` is in the table."""
    if dst not in _TRANSITIONS[src]:
        raise IllegalTransition(f"A delivery cannot go from {src.value} to {dst.value}.")


#: The first retry waits about this long; each next one twice as long, up to the cap.
RETRY_BASE_SECONDS: Final = 30.0
RETRY_CAP_SECONDS: Final = 4 * 3600.0
#: Each wait is its nominal value times a random factor in this range: retries of many
#: deliveries that failed together (a receiver down) spread out instead of arriving at once.
#: A factor range narrower than 2 keeps every wait longer than the one before it.
JITTER: Final = (0.8, 1.2)


def retry_delay_ms(
    attempts: int,
    *,
    base_seconds: float = RETRY_BASE_SECONDS,
    cap_seconds: float = RETRY_CAP_SECONDS,
    rng: random.Random | None = None,
) -> int:
    """The wait after the ``attempts``-th failed attempt (1 for the first), jittered."""
    nominal = min(base_seconds * 2 ** max(attempts - 1, 0), cap_seconds)
    factor = (rng or _RNG).uniform(*JITTER)
    return max(1, int(nominal * factor * 1000))


_RNG = random.SystemRandom()


def after_failure(now_ms: int, delay_ms: int, deadline_ms: int) -> tuple[DeliveryState, int | None]:
    """Where a delivery goes after a failed attempt: pending until ``now + delay``, or dead
    when that retry would come after its deadline (the event's time plus the retry window,
    or a redelivery's time plus the window)."""
    next_ms = now_ms + delay_ms
    if next_ms > deadline_ms:
        return DeliveryState.DEAD, None
    return DeliveryState.PENDING, next_ms


def success(status_code: int | None) -> bool:
    """Only a 2xx answer delivers: a redirect is not followed and counts as a failure."""
    return status_code is not None and 200 <= status_code < 300  # noqa: PLR2004
