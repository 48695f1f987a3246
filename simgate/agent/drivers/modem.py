"""A GSM/LTE modem (or a phone) behind an AT serial port, in PDU mode.

One task owns the port: it opens it, initialises the modem (echo off, numeric errors, the SIM
PIN, PDU mode, ``+CMTI`` notifications for new SMS and ``+CDS`` status reports), then polls the
signal, reads each SMS ``+CMTI`` announces and deletes what the server has
(:mod:`~simgate.agent.drivers.modem_inbox`), until the modem stops answering, when it closes the
port and opens it again with backoff. Every AT command, sends included, goes through one lock: a
modem does one thing at a time. The line protocol itself (answers routed to the waiting command,
unsolicited lines such as ``+CMTI`` and the two-line ``+CDS`` to the handlers here) is
:mod:`simgate.agent.drivers.at`.

Delivery reports: every part is sent with TP-SRR set; the ``+CMGS: <mr>`` of a message's last
part ties the network's status report for ``mr`` to the message
(:mod:`~simgate.agent.drivers.modem_reports`, kept in the agent's state file), and a report
saying "received by the recipient" becomes a :class:`DeliveryReport`. Reports the modem stores
instead (``+CDSI``) are read like received SMS.

An SMS, or a stored report, is deleted from the modem only once the server has acknowledged it
(:meth:`ModemDriver.acknowledged`); until then every start of the agent reads it again, and the
server drops the copy (:mod:`~simgate.agent.drivers.modem_inbox`).

A wrong PIN is never entered twice: three wrong entries lock the SIM until its PUK is typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import random
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import ClassVar

from simgate.agent import pdu
from simgate.agent.drivers.at import AtChannel, AtError, ModemError, ModemUnavailable
from simgate.agent.drivers.base import (
    DeliveryReport,
    Driver,
    DriverEvent,
    DriverState,
    OutgoingSms,
    RadioOutcome,
    StatusUpdate,
)
from simgate.agent.drivers.modem_inbox import ModemStorage
from simgate.agent.drivers.modem_reports import MessageReferences
from simgate.protocol import now_ms

__all__ = ["RETRYABLE_CMS_ERRORS", "AtError", "ModemDriver", "ModemError", "signal_bars"]

log = logging.getLogger(__name__)

PortOpener = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

RETRYABLE_CMS_ERRORS = frozenset({27, 38, 41, 42, 47, 314, 331, 332})
"""``+CMS ERROR`` codes a later attempt can overcome (TS 27.005 3.2.5, TS 24.011 E.2):
destination out of service, network out of order, temporary failure, congestion, resources
unavailable, SIM busy, no network service, network timeout. Every other code is final."""

# +CMTI: "SM",3 (an SMS stored) and +CDSI: "SM",4 (a status report stored), TS 27.005 3.4.1.
_STORED_RE = re.compile(r'^\+C(?:MTI|DSI):\s*"?[^",]*"?\s*,\s*(\d+)')


class _SimLocked(ModemError):
    """The SIM cannot be unlocked without a person: the driver stops trying."""


def signal_bars(rssi: int) -> int | None:
    """``+CSQ`` rssi (0-31, 99 unknown) as 0-4 bars (about -111, -95, -85, -75 dBm)."""
    if not 0 <= rssi <= 31:  # noqa: PLR2004 - TS 27.007 8.5
        return None
    return sum(rssi >= step for step in (2, 10, 15, 20))


async def _open_serial(port: str, baud: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    import serial_asyncio_fast  # noqa: PLC0415 - optional dependency (the `modem` extra)

    return await serial_asyncio_fast.open_serial_connection(url=port, baudrate=baud)


class ModemDriver(Driver):
    """A modem on ``port`` at ``baud``; ``pin`` unlocks its SIM. Timeouts are in seconds:
    ``command_timeout`` for ordinary commands, ``send_timeout`` for one SMS part to leave,
    ``poll_interval`` between signal readings (which also prove the modem alive),
    ``reopen_delays`` the first and the longest wait before reopening a silent modem, and
    ``multipart_wait`` how long the parts of a long SMS are awaited before what came is passed on,
    and ``sweep_interval`` how often the whole storage is listed in case a ``+CMTI`` was lost.
    ``delivery_reports``: ask the network for status reports and pass on each delivery.
    """

    name: ClassVar[str] = "modem"

    def __init__(
        self,
        *,
        port: str,
        baud: int = 115_200,
        pin: str | None = None,
        sims: Sequence[int] = (1,),
        command_timeout: float = 10.0,
        send_timeout: float = 60.0,
        poll_interval: float = 30.0,
        reopen_delays: tuple[float, float] = (1.0, 60.0),
        multipart_wait: float = 3600.0,
        sweep_interval: float = 300.0,
        delivery_reports: bool = True,
        open_port: PortOpener | None = None,
    ) -> None:
        if open_port is None and importlib.util.find_spec("serial_asyncio_fast") is None:
            raise ImportError(
                "the modem driver needs pyserial-asyncio-fast: pip install 'simgate[modem]'"
            )
        super().__init__(sims=sims)
        self.port, self.baud, self._pin = port, baud, pin
        self._command_timeout, self._send_timeout = command_timeout, send_timeout
        self._poll_interval, self._reopen_delays = poll_interval, reopen_delays
        self._sweep_interval = sweep_interval
        self._open_port = open_port or _open_serial
        self._delivery_reports = delivery_reports
        self._reports_routed = False  # the modem accepted AT+CNMI with ds=1
        self._refusal_logged = False
        self._references = MessageReferences(port)
        self._channel: AtChannel | None = None
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._sweep_due = False
        self._storage = ModemStorage(
            port,
            self._command,
            multipart_wait_ms=int(multipart_wait * 1000),
            sim=self.sims[0] if self.sims else None,
            on_sms=self._push,
            on_report=self._on_report,
        )
        self._fatal: str | None = None
        self._signal: int | None = None
        self._items: deque[DriverEvent] = deque()
        self._items_ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._reference = random.randrange(256)  # noqa: S311 - only tells long SMS apart
        self.opened = 0
        """How many times the port was opened and the modem initialised (1 + reopenings)."""

    # --- lifecycle ---------------------------------------------------------------------

    def use_state(self, state: DriverState) -> None:
        """Keep the message references of sent parts in the agent's state file, so that a status
        report arriving after a restart still finds its message."""
        self._references.use_state(state)

    async def start(self) -> None:
        """Start the task that opens the port and keeps it open; never waits for the modem,
        so the agent connects to the server even while the modem is unplugged."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise())

    async def close(self) -> None:
        """Stop the port's task and close the port."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._shut()

    async def _supervise(self) -> None:
        first, longest = self._reopen_delays
        delay = first
        while True:
            try:
                await self._open()
                delay = first
                await self._watch()
            except _SimLocked as exc:
                self._fatal = str(exc)
                log.error("modem on %s: %s", self.port, exc)
                await self._shut()
                self._set_signal(None)
                return
            except (ModemError, OSError) as exc:
                log.warning(
                    "modem on %s not answering (%s); reopening in %.1f s", self.port, exc, delay
                )
            except Exception:  # a bug must not leave the modem closed for good
                log.exception("modem on %s failed; reopening in %.1f s", self.port, delay)
            await self._shut()
            self._set_signal(None)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    async def _open(self) -> None:
        reader, writer = await self._open_port(self.port, self.baud)
        serial = writer.get_extra_info("serial")
        if serial is not None:  # what an earlier session left unread is not for us
            with contextlib.suppress(Exception):
                serial.reset_input_buffer()
        self._channel = AtChannel(reader, writer, self._on_urc, self._on_closed)
        # ESC ends a PDU prompt a previous run may have left open.
        writer.write(b"\x1b\r")
        await asyncio.sleep(0.1)
        channel = self._channel
        for attempt in range(3):  # a modem may miss the first bytes after the port opens
            try:
                async with self._lock:
                    await channel.command("AT", wait=min(self._command_timeout, 2.0))
                break
            except ModemUnavailable:
                if attempt == 2:  # noqa: PLR2004
                    raise
        await self._command("ATE0")
        await self._command("AT+CMEE=1")
        await self._unlock_sim()
        await self._command("AT+CMGF=0")
        await self._set_notifications()
        self.opened += 1
        self._ready.set()
        await self._poll_signal()
        log.info("modem on %s ready: SIM ready, signal %s/4", self.port, self._signal)
        self._sweep_due = True  # SMS that arrived while the agent or the port was down
        self._wake.set()

    async def _set_notifications(self) -> None:
        """``+CMTI`` for each new SMS and, when delivery reports are wanted, status reports
        routed as ``+CDS`` (ds=1). Some modems buffer notifications only in mode 1; a modem
        that refuses ds=1 sends without asking for reports."""
        settings: tuple[str, ...] = ("2,1,0,1,0", "2,1,0,0,0", "1,1,0,1,0", "1,1,0,0,0")
        if not self._delivery_reports:
            settings = ("2,1,0,0,0", "1,1,0,0,0")
        for number, setting in enumerate(settings):
            try:
                await self._command(f"AT+CNMI={setting}")
            except AtError:
                if number == len(settings) - 1:
                    raise
                continue
            self._reports_routed = setting.split(",")[3] == "1"
            break
        if self._delivery_reports and not self._reports_routed and not self._refusal_logged:
            self._refusal_logged = True
            log.warning(
                "modem on %s refuses to pass on status reports (AT+CNMI ds=1): no reports",
                self.port,
            )

    async def _unlock_sim(self) -> None:
        entered = False
        for _ in range(20):
            state = await self._sim_state()
            if state == "READY":
                return
            if state == "SIM PIN" and entered:
                pass  # the SIM takes a moment to check the PIN it accepted
            elif state == "SIM PIN" and self._pin is not None:
                entered = True
                try:
                    await self._command(f'AT+CPIN="{self._pin}"')
                except AtError as exc:
                    raise _SimLocked(
                        f"the SIM refused the PIN ({exc}); not entered again: three wrong PINs "
                        "lock the SIM. Check --pin and restart the agent"
                    ) from exc
                log.info("modem on %s: SIM PIN entered", self.port)
            elif state == "SIM PIN":
                raise _SimLocked("the SIM asks for a PIN: start the agent with --pin")
            elif state != "busy":
                raise _SimLocked(f"the SIM is locked ({state}): unlock it in a phone")
            await asyncio.sleep(0.5)
        raise ModemError("the SIM is not ready")

    async def _sim_state(self) -> str:
        try:
            lines = await self._command("AT+CPIN?")
        except AtError as exc:
            if exc.code in (10, 310):  # SIM not inserted: someone may insert it
                raise ModemError("no SIM in the modem") from exc
            return "busy"  # SIM busy / initialising (CME 14, CMS 314)
        for line in lines:
            if line.startswith("+CPIN:"):
                return line.removeprefix("+CPIN:").strip().strip('"')
        return "busy"

    async def _watch(self) -> None:
        """Until the modem stops answering: read what ``+CMTI`` announces, list the whole storage
        when a sweep is due, hand over long SMS whose parts are overdue, delete what the server
        has, and read the signal every ``poll_interval`` (which also proves the modem alive)."""
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + self._poll_interval
        next_sweep = loop.time() + self._sweep_interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(min(next_poll, next_sweep)):
                    await self._wake.wait()
            self._wake.clear()
            if self._channel is None or self._channel.closed:
                raise ModemError("the serial port closed")
            if loop.time() >= next_poll:
                await self._poll_signal()
                next_poll = loop.time() + self._poll_interval
            if self._sweep_due or loop.time() >= next_sweep:
                self._sweep_due = False
                await self._storage.sweep()
                next_sweep = loop.time() + self._sweep_interval
            await self._storage.read_announced()
            self._storage.hand_over_overdue(now_ms())
            await self._storage.flush_deletes()

    async def _shut(self) -> None:
        self._ready.clear()
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def _on_closed(self) -> None:
        self._wake.set()

    async def _command(
        self, command: str, *, wait: float | None = None, data: str | None = None
    ) -> list[str]:
        async with self._lock:
            channel = self._channel
            if channel is None:
                raise ModemUnavailable("the modem is not open")
            try:
                return await channel.command(command, wait=wait or self._command_timeout, data=data)
            except ModemUnavailable:
                channel.closed = True  # the port's task reopens it
                self._wake.set()
                raise

    # --- sending -----------------------------------------------------------------------

    async def send(self, message: OutgoingSms) -> RadioOutcome:
        """Send each part with ``AT+CMGS``; a refusal the network may overcome is retryable."""
        if self._fatal is not None:
            return RadioOutcome.failure(self._fatal, operator=False)
        # Taken now, before any await: messages sent at the same moment wait for the modem
        # together, and reading the counter after that wait gave them one reference, which
        # makes the recipient's phone join their parts into one text.
        reference = self._reference = (self._reference + 1) % 256
        try:  # what no modem could send fails at once, even while the modem is away
            pdu.encode_submit(message.to, message.text)
        except pdu.PduError as exc:
            return RadioOutcome.failure(str(exc), operator=False)
        try:
            async with asyncio.timeout(self._command_timeout):
                await self._ready.wait()
        except TimeoutError:
            return RadioOutcome.failure("the modem is not answering", operator=True)
        report = self._reports_routed  # known once the modem is initialised
        parts = pdu.encode_submit(
            message.to, message.text, reference=reference, status_report=report
        )
        async with self._send_lock:  # a message's parts back to back
            outcome = await self._send_parts(parts, message.guid if report else None)
        if outcome.ok:
            log.info("modem sent %s in %d part(s)", message.guid, len(parts))
        return outcome

    async def _send_parts(self, parts: Sequence[pdu.SubmitPdu], guid: str | None) -> RadioOutcome:
        """Send ``parts``; with a ``guid``, remember the message references for its report."""
        for number, part in enumerate(parts):
            try:
                lines = await self._command(
                    f"AT+CMGS={part.length}", data=part.hex, wait=self._send_timeout
                )
            except AtError as exc:
                retry = exc.kind == "CMS" and exc.code in RETRYABLE_CMS_ERRORS
                return RadioOutcome.failure(f"modem: {exc}", operator=retry)
            except ModemUnavailable as exc:
                if exc.data_sent or number > 0:
                    return RadioOutcome.failure(
                        "the modem stopped answering while sending; the SMS may have left",
                        operator=False,
                    )
                return RadioOutcome.failure("the modem is not answering", operator=True)
            if guid is not None:
                self._remember(lines, guid if number == len(parts) - 1 else None)
        return RadioOutcome.success(self.sims[0] if self.sims else None, at_ms=now_ms())

    def _remember(self, lines: Sequence[str], guid: str | None) -> None:
        for line in lines:
            reference = line.removeprefix("+CMGS:").split(",")[0].strip()
            if line.startswith("+CMGS:") and reference.isdigit():
                self._references.sent(int(reference), guid)

    # --- delivery reports --------------------------------------------------------------

    def _on_report(self, report: pdu.StatusReport, ref: str | None = None) -> bool | None:
        """Pass on a report of delivery (with ``ref`` for one stored on the SIM): True when
        passed on, False when there is nothing to pass on, None when the report is about a
        message this agent does not know (see :data:`~.modem_inbox.ReportHandler`)."""
        known = report.message_reference in self._references
        guid = self._references.delivered(report)
        if guid is None:
            return False if known else None
        at_ms = report.discharged_ms if report.discharged_ms > 0 else now_ms()
        self._push(DeliveryReport(guid=guid, at_ms=at_ms, key=ref, ref=ref))
        return True

    def _on_report_pdu(self, pdu_hex: str | None) -> None:
        if pdu_hex is None:
            log.warning("modem on %s: +CDS without its PDU; ignored", self.port)
            return
        try:
            report = pdu.decode(pdu_hex)
        except pdu.PduError as exc:
            log.warning("modem on %s: undecodable status report (%s); ignored", self.port, exc)
            return
        if isinstance(report, pdu.StatusReport):
            self._on_report(report)
        else:
            log.warning("modem on %s: +CDS with a %s; ignored", self.port, type(report).__name__)

    # --- receiving and status ----------------------------------------------------------

    def _on_urc(self, line: str, body: str | None) -> None:
        if match := _STORED_RE.match(line):  # an SMS or a status report stored: read it
            self._storage.to_read[int(match.group(1))] = None
            self._wake.set()
        elif line.startswith(("+CMTI:", "+CDSI:")):  # no index we can read: look at everything
            self._sweep_due = True
            self._wake.set()
        elif line.startswith("+CDS:"):
            self._on_report_pdu(body)
        elif line.startswith("+CSQ:"):
            self._set_signal(_parse_csq(line))
        else:
            log.debug("modem on %s says %s", self.port, line)

    async def _poll_signal(self) -> None:
        for line in await self._command("AT+CSQ"):
            if line.startswith("+CSQ:"):
                self._set_signal(_parse_csq(line))

    def _set_signal(self, signal: int | None) -> None:
        if signal != self._signal:
            self._signal = signal
            self._push(StatusUpdate(signal=signal))

    def _push(self, event: DriverEvent) -> None:
        self._items.append(event)
        self._items_ready.set()

    def acknowledged(self, ref: str) -> None:
        """The server has the SMS (or stored report) in the slots ``ref`` names: delete them,
        from the port's task, once the modem answers."""
        if self._storage.acknowledged(ref):
            self._wake.set()

    async def events(self) -> AsyncIterator[DriverEvent]:
        """Received SMS (whole, multipart joined), delivery reports and signal changes,
        forever."""
        while True:
            while not self._items:
                self._items_ready.clear()
                await self._items_ready.wait()
            event = self._items.popleft()
            try:
                yield event
            except BaseException:
                self._items.appendleft(event)  # not stored by the runner: hand it over again
                raise

    async def read_status(self) -> StatusUpdate:
        """The last signal reading (None while the modem is not answering); no battery."""
        return StatusUpdate(signal=self._signal)


def _parse_csq(line: str) -> int | None:
    rssi = line.removeprefix("+CSQ:").split(",")[0].strip()
    return signal_bars(int(rssi)) if rssi.isdigit() else None
