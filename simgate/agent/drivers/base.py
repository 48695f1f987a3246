"""The interface between the agent's runner and whatever actually holds the SIM cards.

A driver is the edge of the physical world: the simulator today, Termux:API on Android and AT
commands over a serial modem later. The runner owns everything protocol-shaped (connection,
acks, the durable outbox, GUID de-duplication), so a driver only has to transmit one message and
report what the phone sees. That keeps each new driver small and keeps the delivery guarantees in
one place, tested once.

Two optional hooks serve drivers whose phone keeps what it received until told to forget it (a
modem's SIM storage): an event may carry the driver's own ``ref``, which the runner keeps with the
event's frame in its durable outbox and hands back to :meth:`Driver.acknowledged` once the server
has acknowledged that frame, even in a later run of the agent; and :meth:`Driver.use_state` gives
a driver a small JSON document kept in the agent's state file.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeAlias

from simgate.protocol import Channel

__all__ = [
    "DeliveryReport",
    "Driver",
    "DriverEvent",
    "DriverState",
    "InboundSms",
    "Json",
    "OutgoingSms",
    "OwnerSentSms",
    "RadioOutcome",
    "StatusUpdate",
]

Json: TypeAlias = dict[str, "Json"] | list["Json"] | str | int | float | bool | None
"""A JSON value, as a driver keeps it in the agent's state file."""


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
    """An SMS the phone received. ``at_ms`` is the phone's reception time, in Unix ms.

    ``key``: a stable identity of this SMS (None: none). The same SMS read again, in this run or
    after a restart, must give the same key: its frame id is derived from it, so the server, which
    stores one SMS per frame id, drops the repeat instead of showing the SMS twice.
    ``ref``: the driver's own handle, given back to :meth:`Driver.acknowledged` once the server
    has the SMS (a modem deletes it from the SIM then).
    """

    number: str
    text: str
    at_ms: int
    sim: int | None = None
    key: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class OwnerSentSms:
    """An SMS the owner typed on the phone itself, outside simgate; ``key`` and ``ref`` as for
    :class:`InboundSms`."""

    number: str
    text: str
    at_ms: int
    key: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The operator reported that the recipient's phone got message ``guid`` at ``at_ms``.

    ``key`` and ``ref`` as for :class:`InboundSms` (a report a modem stored on the SIM)."""

    guid: str
    at_ms: int
    key: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """Battery level (0-100), signal strength (0-4) and whether the phone is on a charger;
    None where the driver cannot tell."""

    battery: int | None = None
    signal: int | None = None
    charging: bool | None = None


DriverEvent: TypeAlias = InboundSms | OwnerSentSms | DeliveryReport | StatusUpdate


class DriverState(Protocol):
    """A driver's own small document in the agent's state file (``state.json``).

    What :meth:`save` is given is written with the agent's next state write, which happens at the
    latest when the runner next makes a frame durable (a ``sent`` report, say), so what a driver
    saves before returning from :meth:`Driver.send` survives a crash once the server could know
    the outcome. Keep it small: the whole file is rewritten on every write.
    """

    def load(self) -> Json:
        """What was saved last, in this run or an earlier one (None: nothing yet)."""

    def save(self, value: Json) -> None:
        """Replace the document; written soon, not before returning."""


class Driver(abc.ABC):
    """Base class of every driver.

    Lifecycle: the runner calls :meth:`use_state` and :meth:`start` once, then :meth:`send`
    concurrently (one task per message, so a driver that can only send one at a time must
    serialise internally), consumes :meth:`events` for the whole run, calls :meth:`on_connected`
    after each ``welcome`` and :meth:`acknowledged` after each ack of a frame whose event had a
    ``ref``, and finally :meth:`close`.
    """

    name: ClassVar[str]
    """Short driver name reported in ``hello`` (``simulator``, ``termux``, ``modem``)."""

    send_limit: tuple[int, int] | None = None
    """The phone's own send limit as (count, seconds), reported in ``hello`` so that the server
    paces under it (Android: 30 SMS per 60 s per app); None: no limit of its own."""

    def __init__(self, *, sims: Sequence[int], capabilities: Sequence[str] = ("sms",)) -> None:
        self.sims: tuple[int, ...] = tuple(sims)
        self.capabilities: tuple[str, ...] = tuple(capabilities)

    def use_state(self, state: DriverState) -> None:  # noqa: B027 - optional hook
        """Take the driver's document in the agent's state file; called once, before
        :meth:`start`. Default: the driver keeps nothing."""

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
        its outbox, so a driver can mark an SMS as handed over (advance a Termux cursor) when the
        next event is requested. What must wait until the *server* has it (deleting an SMS from a
        modem's memory) waits for :meth:`acknowledged` instead. The iterator may run forever.
        """

    def acknowledged(self, ref: str) -> None:  # noqa: B027 - optional hook
        """The server acknowledged the frame of an event that carried ``ref``.

        Called on the event loop from the connection's reader, also for events of an earlier run
        (the outbox keeps each ref with its frame), and possibly more than once for one ref (a
        frame resent after a restart is acknowledged again): it must return at once and be
        harmless when repeated; slow work belongs in the driver's own task. Default: nothing.
        """

    async def read_status(self) -> StatusUpdate:
        """Current battery and signal, for ``hello``. Default: unknown."""
        return StatusUpdate()

    async def on_connected(self, sid: str) -> None:  # noqa: B027 - optional hook
        """Called after every ``welcome``, with the device's SID. Default: nothing."""
