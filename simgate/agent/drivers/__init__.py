"""Drivers: what stands between the agent and a SIM card.

Only :mod:`~simgate.agent.drivers.base` is imported here; each concrete driver is imported by
name when chosen, so that a driver's optional dependencies (a serial library for ``modem``) are
needed only on the machines that use it.
"""

from simgate.agent.drivers.base import (
    DeliveryReport,
    Driver,
    DriverEvent,
    DriverState,
    InboundSms,
    OutgoingSms,
    OwnerSentSms,
    RadioOutcome,
    StatusUpdate,
)

__all__ = [
    "DRIVER_NAMES",
    "DeliveryReport",
    "Driver",
    "DriverEvent",
    "DriverState",
    "InboundSms",
    "OutgoingSms",
    "OwnerSentSms",
    "RadioOutcome",
    "StatusUpdate",
]

DRIVER_NAMES: tuple[str, ...] = ("simulator", "termux", "modem")
"""Drivers ``simgate agent --driver`` accepts."""
