"""A simulated phone: the agent's driver for demos, tests and benchmarks.

It stands where the radio would be, so everything above it (runner, protocol, server) runs for
real. What it "transmits" is appended to an optional JSON-lines file, which is the simulated
world's record of SMS that left the phone: tests and benchmarks read it to prove that a message
went out exactly once. Operator failures are drawn from a seeded random generator so a run can be
repeated exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from simgate.agent.drivers.base import (
    DeliveryReport,
    Driver,
    DriverEvent,
    InboundSms,
    OutgoingSms,
    OwnerSentSms,
    RadioOutcome,
    StatusUpdate,
)
from simgate.protocol import now_ms

__all__ = ["SIMULATED_OPERATOR_ERROR", "SimulatorDriver", "TransmissionLog"]

SIMULATED_OPERATOR_ERROR = "simulated operator error"
DELIVERY_REPORT_DELAY = 0.1
"""Seconds between a simulated send and its delivery report."""

_INBOUND_NUMBER_PREFIX = "+15550100"
_KEEP_TRANSMITTED = 10_000


def _iso_utc(at_ms: int) -> str:
    """ISO 8601 UTC with a ``Z``, millisecond precision, for the outbox file's ``at``."""
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TransmissionLog:
    """The JSON-lines file of what left the simulated phones, opened once however many use it.

    Each line is one ``os.write`` on a descriptor opened with ``O_APPEND``: lines stay whole
    when the phones of one process write from its one event loop, and when several agent
    processes append to the same file. The file opens with its first user and closes with its
    last, so the phones of a fleet share one descriptor instead of holding one each.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._users = 0

    def open(self) -> None:
        """Take the file for one more user, creating it and its folder if needed."""
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._users += 1

    def close(self) -> None:
        """Release the file for one user; the last one closes it."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write(self, record: dict[str, object]) -> None:
        """Append one record as one line (a no-op while nobody holds the file open)."""
        if self._fd is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        # Unbuffered: the line is in the file the moment send() returns, so a reader (a test,
        # a benchmark) never waits for a flush.
        os.write(self._fd, line.encode())


class SimulatorDriver(Driver):
    """A phone with no radio: configurable latency, operator failures and inbound traffic.

    ``failure_rate`` is the probability (0..1) that the simulated operator refuses a message;
    ``seed`` makes those draws repeatable (one draw per message, in the order messages are handed
    over). ``inject_inbound`` makes the phone receive that many SMS right after its first
    ``welcome``, from ``+15550100<i>`` with text ``Simulated inbound message <i>`` (i from 1).
    Tests drive it further with :meth:`inject_received`, :meth:`inject_mobile_sent` and
    :meth:`set_status`. ``transmission_log`` shares one outbox file between the phones of a
    fleet (instead of ``outbox_file``); ``keep_transmitted`` bounds :attr:`transmitted`.
    """

    name: ClassVar[str] = "simulator"

    def __init__(
        self,
        *,
        delay: float = 0.0,
        failure_rate: float = 0.0,
        seed: int | None = None,
        outbox_file: Path | None = None,
        inject_inbound: int = 0,
        sims: Sequence[int] = (1, 2),
        capabilities: Sequence[str] = ("sms",),
        battery: int | None = 100,
        signal: int | None = 4,
        delivery_reports: bool = False,
        transmission_log: TransmissionLog | None = None,
        keep_transmitted: int = _KEEP_TRANSMITTED,
    ) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if inject_inbound < 0:
            raise ValueError("inject_inbound must be >= 0")
        super().__init__(sims=sims, capabilities=capabilities)
        self.delay = delay
        self.failure_rate = failure_rate
        self.outbox_file = outbox_file
        self.inject_inbound = inject_inbound
        self.delivery_reports = delivery_reports
        # Not a security context: the draws only need to be repeatable for a given seed.
        self._rng = random.Random(seed)  # noqa: S311
        self._status = StatusUpdate(battery=battery, signal=signal)
        self._events: asyncio.Queue[DriverEvent] = asyncio.Queue()
        if transmission_log is None and outbox_file is not None:
            transmission_log = TransmissionLog(outbox_file)
        self._log = transmission_log
        self._opened = False
        self._sid: str | None = None
        self._injected = False
        self.transmitted: deque[OutgoingSms] = deque(maxlen=keep_transmitted)
        """The latest messages that left this phone, oldest first (bounded: benchmarks run
        long); the outbox file is the complete record."""

    async def start(self) -> None:
        """Open the outbox file for appending, creating its folder if needed."""
        if self._log is not None and not self._opened:
            self._log.open()
            self._opened = True

    async def close(self) -> None:
        """Close the outbox file (the last phone sharing it closes it)."""
        if self._log is not None and self._opened:
            self._log.close()
            self._opened = False

    async def send(self, message: OutgoingSms) -> RadioOutcome:
        """Wait ``delay``, then either refuse (operator error) or record the transmission."""
        # Draw before sleeping, so the sequence of outcomes follows the order of hand-over and
        # not the order in which concurrent delays happen to finish.
        refused = self._rng.random() < self.failure_rate
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if refused:
            return RadioOutcome.failure(SIMULATED_OPERATOR_ERROR, operator=True)
        sim = message.sim if message.sim is not None else (self.sims[0] if self.sims else None)
        at = now_ms()
        self._record(message, sim, at)
        if self.delivery_reports:
            # The network's delivery report comes a moment after the send, as on a real phone.
            asyncio.get_running_loop().call_later(
                DELIVERY_REPORT_DELAY,
                self._events.put_nowait,
                DeliveryReport(guid=message.guid, at_ms=at + int(DELIVERY_REPORT_DELAY * 1000)),
            )
        return RadioOutcome.success(sim, at_ms=at)

    def _record(self, message: OutgoingSms, sim: int | None, at: int) -> None:
        self.transmitted.append(message)
        if self._log is None:
            return
        self._log.write(
            {
                "guid": message.guid,
                "to": message.to,
                "text": message.text,
                "sim": sim,
                "at": _iso_utc(at),
                "sid": self._sid,
            }
        )

    async def events(self) -> AsyncIterator[DriverEvent]:
        """Injected SMS and status changes, in injection order, forever."""
        while True:
            yield await self._events.get()

    async def read_status(self) -> StatusUpdate:
        """The simulated battery and signal (100 % and 4 bars unless told otherwise)."""
        return self._status

    async def on_connected(self, sid: str) -> None:
        """Receive the ``inject_inbound`` SMS, once, after the first ``welcome``."""
        self._sid = sid
        if self._injected:
            return
        self._injected = True
        for index in range(1, self.inject_inbound + 1):
            self.inject_received(
                f"{_INBOUND_NUMBER_PREFIX}{index}", f"Simulated inbound message {index}"
            )

    def inject_received(
        self, number: str, text: str, *, sim: int | None = None, at_ms: int | None = None
    ) -> None:
        """Make the phone receive an SMS from ``number`` (``sim`` None: the first SIM)."""
        if sim is None and self.sims:
            sim = self.sims[0]
        at = now_ms() if at_ms is None else at_ms
        self._events.put_nowait(InboundSms(number=number, text=text, at_ms=at, sim=sim))

    def inject_mobile_sent(self, number: str, text: str, *, at_ms: int | None = None) -> None:
        """Pretend the owner typed and sent an SMS to ``number`` on the phone itself."""
        self._events.put_nowait(
            OwnerSentSms(number=number, text=text, at_ms=now_ms() if at_ms is None else at_ms)
        )

    def set_status(self, *, battery: int | None, signal: int | None) -> None:
        """Change battery and signal; the agent reports it with a ``status`` frame."""
        self._status = StatusUpdate(battery=battery, signal=signal)
        self._events.put_nowait(self._status)
