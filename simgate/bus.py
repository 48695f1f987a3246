"""Publish/subscribe of small notifications between the parts of the server.

A notification says only *that* something happened ("account 7 has work"); subscribers read the
details from the store. :class:`Bus` is the seam: the in-process implementation below serves
one process on SQLite, and :class:`simgate.pgbus.PgBus` (PostgreSQL LISTEN/NOTIFY) takes its
place when several processes share one database, without any publisher or subscriber changing.

Publishing never fails because of a subscriber: by the time something is published its cause is
committed, so a handler's exception is logged and isolated instead of reaching the publisher
(which would answer its client with an error for work that was in fact done).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

Handler = Callable[[str], None]
Unsubscribe = Callable[[], None]

#: Topic for "this account has messages that may be dispatched now"; payload: the account id.
WORK = "work"
#: Topic for "the earliest scheduled time may have changed"; payload: the account id.
SCHEDULE = "schedule"
#: Topic for "a lease now ends at this time": payload: Unix milliseconds.
DEADLINE = "deadline"
#: Topic for "this account's settings (routing policy) changed"; payload: the account id.
ACCOUNT_CHANGED = "account-changed"
#: Topic for "the owner changed this device (its limits)"; payload: the device id.
DEVICE_CHANGED = "device-changed"
#: Topic for "a credential of this account (API key, OAuth client) was revoked": caches of
#: checked credentials forget the account's entries; payload: the account id.
CREDENTIALS_REVOKED = "credentials-revoked"
#: Topic for "this device was deleted: close its live connection"; payload: the device id.
DEVICE_REMOVED = "device-removed"
#: Topic for "webhook deliveries may be due now"; payload: the account id.
WEBHOOK_WORK = "webhook-work"
#: Topic for "this account's webhook endpoints changed"; payload: the account id.
WEBHOOKS_CHANGED = "webhooks-changed"
#: Topic for "notifications may have been missed (the bus was disconnected): look at the store
#: now instead of waiting for the next safety sweep"; empty payload. Published by the bus
#: itself, in this process only, each time it starts listening again.
RESYNC = "resync"


class Bus(Protocol):
    """What publishers and subscribers rely on, whatever carries the notifications."""

    def subscribe(self, topic: str, handler: Handler) -> Unsubscribe:
        """Call ``handler(payload)`` for every notification on ``topic`` until unsubscribed.

        Handlers must not block: they note the fact or schedule a task.
        """
        ...

    def publish(self, topic: str, payload: str) -> None:
        """Notify every subscriber of ``topic``; never raises because of a subscriber."""
        ...

    def start(self) -> None:
        """Begin carrying notifications beyond this process, if it does (on a running loop)."""
        ...

    async def close(self) -> None:
        """Stop, after sending what was published before (a graceful stop loses nothing)."""
        ...


class InProcessBus:
    """Synchronous fan-out to the handlers of this process, each isolated from the others."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> Unsubscribe:
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            handlers = self._handlers[topic]
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def publish(self, topic: str, payload: str) -> None:
        for handler in list(self._handlers[topic]):
            try:
                handler(payload)
            except Exception:
                log.exception("bus_handler_failed", topic=topic, handler=_name(handler))

    def start(self) -> None:
        """Nothing to connect: handlers are called as things are published."""

    async def close(self) -> None:
        """Nothing queued: every notification was handed to its handlers when published."""


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
