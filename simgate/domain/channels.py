"""The ways a message can leave a phone: SMS, WhatsApp, or both."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeAlias

Channel: TypeAlias = Literal["sms", "whatsapp", "both"]
CHANNELS: Final[frozenset[str]] = frozenset({"sms", "whatsapp", "both"})

#: The capability a device declares in its ``hello`` when it can send WhatsApp messages.
WHATSAPP_CAPABILITY: Final = "whatsapp"


def carried_by(capabilities: Iterable[str]) -> frozenset[str]:
    """The channels a device with these capabilities can serve.

    Every device sends SMS; "both" needs WhatsApp as well, since the device sends the message
    both ways.
    """
    if WHATSAPP_CAPABILITY in set(capabilities):
        return CHANNELS
    return frozenset({"sms"})
