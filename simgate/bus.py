"""Publish/subscribe of small notifications between the parts of one server process.

A notification says only *that* something happened ("account 7 has work"); subscribers read the
details from the store. That keeps the bus trivially replaceable by PostgreSQL LISTEN/NOTIFY
when several processes share one database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

Handler = Callable[[str], None]

#: Topic for "this account has messages that may be dispatched now"; payload: the account id.
WORK = "work"
#: Topic for "the earliest scheduled time may have changed"; payload: the account id.
SCHEDULE = "schedule"
#: Topic for "this device was deleted: close its live connection"; payload: the device id.
DEVICE_REMOVED = "device-removed"


class InProcessBus:
    """Synchronous fan-out to handlers in this process. Handlers must not block: they schedule."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            self._handlers[topic].remove(handler)

        return unsubscribe

    def publish(self, topic: str, payload: str) -> None:
        for handler in list(self._handlers[topic]):
            handler(payload)
