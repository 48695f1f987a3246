"""A GSM modem on a pseudo-terminal: the radio edge of the modem driver's tests.

The driver opens :attr:`ModemEmulator.port` (the pty's slave side) as its serial port; the
emulator answers on the master side from its own thread, in PDU mode, like a real modem:
``AT``, ``ATE0``, ``+CMEE``, ``+CPIN``, ``+CMGF``, ``+CNMI``, ``+CSQ``, ``+CMGS`` (prompt, PDU,
Ctrl-Z), ``+CMGL``, ``+CMGR``, ``+CMGD``. What it is asked to send is decoded and kept in
:attr:`sent` (what went on the air); :meth:`receive` stores an incoming SMS and notifies it
with ``+CMTI``. A message sent with TP-SRR gets a status report a moment after its ``+CMGS``:
``+CDS: <length>`` and the PDU on the next line (``AT+CNMI`` ds=1), or stored and announced with
``+CDSI`` (:attr:`store_reports`). Tests can make it refuse sends with ``+CMS ERROR``, refuse
ds=1 or deletions, slip notifications into the middle of a command, or go silent.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
import tty
from collections import deque
from dataclasses import dataclass

from simgate.agent import pdu


@dataclass
class Stored:
    status: int  # 0 received unread, 1 received read
    pdu: str


class ModemEmulator:
    def __init__(self, *, pin: str | None = None, rssi: int = 18) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # bytes as they are: no echo, no newline translation
        self.port = os.ttyname(self._slave)
        self.pin = pin
        self.pin_entries: list[str] = []
        self.rssi = rssi
        self.echo = True
        self.storage: dict[int, Stored] = {}
        self.sent: list[pdu.Submit] = []
        self.sent_pdus: list[str] = []
        self.commands: list[str] = []
        self.deleted: list[int] = []
        self.refuse_deletes = False
        """Answer ``AT+CMGD`` with ``+CMS ERROR: 302`` and keep the SMS (operation not allowed)."""
        self.references: list[int] = []
        """The message reference (TP-MR) given in each ``+CMGS`` answer."""
        self.cms_errors: deque[int] = deque()
        """Codes the next ``AT+CMGS`` calls answer with ``+CMS ERROR: n``, one per call."""
        self.urc_during_next: str | None = None
        """A line slipped into the answer of the next command (before its final ``OK``)."""
        self.silent = False
        self.send_delay = 0.0
        """Seconds the network takes to accept a message (the ``+CMGS`` answer comes late)."""
        self.report_delay: float | None = 0.05
        """Seconds between a ``+CMGS`` answer and the status report (None: no report)."""
        self.report_status = 0
        """TP-ST of the reports (0: received by the recipient)."""
        self.store_reports = False
        """Store reports and announce them with ``+CDSI`` instead of routing them as ``+CDS``."""
        self.refuse_report_routing = False
        """Answer ``AT+CNMI`` with ds=1 with ``ERROR``, like a modem that cannot route reports."""
        self.reports: list[str] = []
        """The status report PDUs emitted or stored."""
        self._pdu_length: int | None = None
        self._buffer = b""
        self._lock = threading.RLock()
        self._running = True
        self._mr = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # --- test controls ------------------------------------------------------------------

    def receive(self, sender: str, text: str, *, at_ms: int, reference: int = 1) -> list[int]:
        """An SMS arrives: its parts are stored and each announced with ``+CMTI``."""
        indexes = []
        with self._lock:
            for part in pdu.encode_deliver(sender, text, at_ms=at_ms, reference=reference):
                index = self.store(part)
                indexes.append(index)
                self.unsolicited(f'+CMTI: "SM",{index}')
        return indexes

    def store(self, pdu_hex: str, status: int = 0) -> int:
        """Put a PDU in the SIM's memory without telling anyone (arrived while unplugged)."""
        with self._lock:
            index = next(i for i in range(1, 1000) if i not in self.storage)
            self.storage[index] = Stored(status, pdu_hex)
            return index

    def unsolicited(self, line: str) -> None:
        with self._lock:
            if not self.silent:
                self._write(f"\r\n{line}\r\n")

    def close(self) -> None:
        with self._lock:
            self._running = False
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    # --- the modem ------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        os.write(self._master, text.encode())

    def _serve(self) -> None:
        while self._running:
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            with self._lock:
                if self.silent:
                    continue
                self._buffer += data
                self._consume()

    def _consume(self) -> None:
        while True:
            if self._pdu_length is not None:
                end = re.search(rb"[\x1a\x1b]", self._buffer)
                if end is None:
                    return
                body, self._buffer = self._buffer[: end.start()], self._buffer[end.end() :]
                length, self._pdu_length = self._pdu_length, None
                if end.group() == b"\x1a":
                    self._submit(body.decode().strip(), length)
                continue
            self._buffer = self._buffer.lstrip(b"\x1b")
            if b"\r" not in self._buffer:
                return
            raw, _, self._buffer = self._buffer.partition(b"\r")
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            self.commands.append(line)
            if self.echo:
                self._write(line + "\r")
            self._command(line)

    def _final(self, *lines: str, result: str = "OK") -> None:
        urc, self.urc_during_next = self.urc_during_next, None
        out = [*lines]
        if urc is not None:
            out.insert(len(out) // 2, urc)  # in the middle of the answer
        self._write("".join(f"\r\n{line}\r\n" for line in [*out, result]))

    def _command(self, line: str) -> None:  # noqa: PLR0911, PLR0912 - one branch per command
        upper = line.upper()
        locked = self.pin is not None
        if upper == "AT":
            return self._final()
        if upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            return self._final()
        if upper.startswith("AT+CNMI="):
            ds = upper.removeprefix("AT+CNMI=").split(",")[3:4]
            if self.refuse_report_routing and ds == ["1"]:
                return self._final(result="ERROR")
            return self._final()
        if upper.startswith(("AT+CMEE=", "AT+CMGF=0")):
            return self._final()
        if upper == "AT+CPIN?":
            return self._final(f"+CPIN: {'SIM PIN' if locked else 'READY'}")
        if upper.startswith("AT+CPIN="):
            entered = line.split("=", 1)[1].strip('"')
            self.pin_entries.append(entered)
            if entered == self.pin:
                self.pin = None
                return self._final()
            return self._final(result="+CME ERROR: 16")
        if locked:
            return self._final(result="+CMS ERROR: 311")
        if upper == "AT+CSQ":
            return self._final(f"+CSQ: {self.rssi},99")
        if match := re.fullmatch(r"AT\+CMGS=(\d+)", upper):
            self._pdu_length = int(match.group(1))
            self._write("\r\n> ")
            return None
        if upper == "AT+CMGL=4":
            listing = []
            for index, stored in sorted(self.storage.items()):
                length = len(stored.pdu) // 2 - 1 - int(stored.pdu[:2], 16)
                listing += [f"+CMGL: {index},{stored.status},,{length}", stored.pdu]
                stored.status = max(stored.status, 1)
            return self._final(*listing)
        if match := re.fullmatch(r"AT\+CMGR=(\d+)", upper):
            stored_one = self.storage.get(int(match.group(1)))
            if stored_one is None:
                return self._final(result="+CMS ERROR: 321")
            return self._final(f"+CMGR: {stored_one.status},,0", stored_one.pdu)
        if match := re.fullmatch(r"AT\+CMGD=(\d+)", upper):
            if self.refuse_deletes:
                return self._final(result="+CMS ERROR: 302")
            self.deleted.append(int(match.group(1)))
            self.storage.pop(int(match.group(1)), None)
            return self._final()
        return self._final(result="ERROR")

    def _submit(self, pdu_hex: str, length: int) -> None:
        if self.cms_errors:
            return self._final(result=f"+CMS ERROR: {self.cms_errors.popleft()}")
        submit = pdu.decode(pdu_hex)
        smsc_octets = 1 + int(pdu_hex[:2], 16)
        if not isinstance(submit, pdu.Submit) or len(pdu_hex) // 2 - smsc_octets != length:
            return self._final(result="+CMS ERROR: 304")
        self.sent.append(submit)
        self.sent_pdus.append(pdu_hex)
        self._mr = (self._mr + 1) % 256
        self.references.append(self._mr)
        first = bytes.fromhex(pdu_hex)[smsc_octets]
        if first & 0x20 and self.report_delay is not None:  # TP-SRR
            delay = self.send_delay + self.report_delay
            threading.Timer(delay, self._report, [self._mr, submit.to]).start()
        if self.send_delay:
            threading.Timer(self.send_delay, self._late_final, [f"+CMGS: {self._mr}"]).start()
            return None
        return self._final(f"+CMGS: {self._mr}")

    def _report(self, reference: int, recipient: str) -> None:
        now = int(time.time() * 1000)
        report = pdu.encode_status_report(
            reference, recipient, at_ms=now, discharged_ms=now, status=self.report_status
        )
        with self._lock:
            if not self._running:
                return
            self.reports.append(report)
            if self.store_reports:
                index = self.store(report)
                self.unsolicited(f'+CDSI: "SM",{index}')
            else:
                self.unsolicited(cds_lines(report))

    def _late_final(self, line: str) -> None:
        with self._lock:
            if self._running:
                self._final(line)


def cds_lines(report: str) -> str:
    """The two lines of a ``+CDS`` notification of ``report`` (a PDU in hex)."""
    return f"+CDS: {len(report) // 2 - 1 - int(report[:2], 16)}\r\n{report}"
