"""The interface between the agent's runner and whatever actually holds the SIM cards.

A driver is the edge of the physical world: the simulator today, Termux:API on Android and AT
commands over a serial modem later. The runner owns everything protocol-shaped (connection,
acks, the durable outbox, GUID de-duplication), so a driver only has to transmit one message and
report what the phone sees. That keeps each new driver small and keeps the delivery guarantees in
one place, tested once.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from simgate.protocol import Channel

__all__ = [
    "DeliveryReport",
    "Driver",
    "DriverEvent",
    "InboundSms",
    "OutgoingSms",
    "OwnerSentSms",
    "RadioOutcome",
    "StatusUpdate",
]


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One message the server asked this device to transmit.

    ``sim`` is the SIM slot the server chose, or None to let the phone use its default. ``parts``
    is the server's segment count, for drivers that must send multipart SMS explicitly.
    """

    guid: str
    to: str
    text: str
    sim: int | None = None
    channel: Channel = "sms"
    parts: int = 1


@dataclass(frozen=True, slots=True)
class RadioOutcome:
    """What happened to one :class:`OutgoingSms`.

    ``operator`` marks a refusal by the operator or the network (no credit, congestion, barred
    number): the server retries those automatically, so a driver sets it only when a later
    attempt can plausibly succeed. ``at_ms`` is when the outcome happened (None: now).
    """

    ok: bool
    sim: int | None = None
    error: str = ""
    operator: bool = False
    at_ms: int | None = None

    @classmethod
    def success(cls, sim: int | None, *, at_ms: int | None = None) -> RadioOutcome:
        """The radio transmitted the message on ``sim``."""
        return cls(ok=True, sim=sim, at_ms=at_ms)

    @classmethod
    def failure(cls, error: str, *, operator: bool, at_ms: int | None = None) -> RadioOutcome:
        """The message was not sent; ``error`` is shown to a person as is."""
        return cls(ok=False, error=error, operator=operator, at_ms=at_ms)


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS the phone received. ``at_ms`` is the phone's reception time, in Unix ms."""

    number: str
    text: str
    at_ms: int
    sim: int | None = None


@dataclass(frozen=True, slots=True)
class OwnerSentSms:
    """An SMS the owner typed on the phone itself, outside simgate."""

    number: str
    text: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The operator reported that the recipient's phone got message ``guid`` at ``at_ms``."""

    guid: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """Battery level (0-100), signal strength (0-4) and whether the phone is on a charger;
    None where the driver cannot tell."""

    battery: int | None = None
    signal: int | None = None
    charging: bool | None = None


DriverEvent: TypeAlias = InboundSms | OwnerSentSms | DeliveryReport | StatusUpdate


class Driver(abc.ABC):
    """Base class of every driver.

    Lifecycle: the runner calls :meth:`start` once, then :meth:`send` concurrently (one task per
    message, so a driver that can only send one at a time must serialise internally), consumes
    :meth:`events` for the whole run, calls :meth:`on_connected` after each ``welcome``, and
    finally :meth:`close`.
    """

    name: ClassVar[str]
    """Short driver name reported in ``hello`` (``simulator``, ``termux``, ``modem``)."""

    send_limit: tuple[int, int] | None = None
    """The phone's own send limit as (count, seconds), reported in ``hello`` so that the server
    paces under it (Android: 30 SMS per 60 s per app); None: no limit of its own."""

    def __init__(self, *, sims: Sequence[int], capabilities: Sequence[str] = ("sms",)) -> None:
        self.sims: tuple[int, ...] = tuple(sims)
        self.capabilities: tuple[str, ...] = tuple(capabilities)

    async def start(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Open devices and files. Default: nothing to open."""

    async def close(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release what :meth:`start` opened. Called once, also after a failed run."""

    @abc.abstractmethod
    async def send(self, message: OutgoingSms) -> RadioOutcome:
        """Transmit one message and say what happened.

        Return a failure outcome rather than raising: an exception is reported to the server as a
        non-operator failure (no automatic retry), because the runner cannot tell whether the
        message left the phone. The runner may cancel this coroutine when it stops; the message's
        outcome is then reported as unknown.
        """

    @abc.abstractmethod
    def events(self) -> AsyncIterator[DriverEvent]:
        """Everything the phone notices by itself: received SMS, SMS typed on the phone, status.

        The runner asks for the next event only after it has stored the previous one durably in
        its outbox, so a driver can mark an SMS as handed over (delete it from a modem's memory,
        advance a Termux cursor) when the next event is requested. The iterator may run forever.
        """

    async def read_status(self) -> StatusUpdate:
        """Current battery and signal, for ``hello``. Default: unknown."""
        return StatusUpdate()

    async def on_connected(self, sid: str) -> None:  # noqa: B027 - optional hook
        """Called after every ``welcome``, with the device's SID. Default: nothing."""
