"""The AT command channel of a modem: one command at a time, answers routed to it.

A reader task splits what the modem says into lines. Final result codes (``OK``, ``ERROR``,
``+CMS ERROR: n``) and the command's own answer lines go to the command waiting for them;
unsolicited lines (``+CMTI``, ``RING``, ``+CSQ`` when no ``AT+CSQ`` waits) go to a handler, so a
notification in the middle of an ``AT+CMGS`` neither ends nor confuses it. ``+CDS: <length>``
and ``+CMT:`` (TS 27.005 3.4.1) are notifications of two lines: the line after them is their PDU,
wherever it comes. The modem driver (:mod:`simgate.agent.drivers.modem`) owns the port and
decides what to ask; this module only speaks the line protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AtChannel", "AtError", "ModemError", "ModemUnavailable"]

log = logging.getLogger(__name__)

_CMS_TEXT = {
    1: "unassigned number", 8: "operator determined barring", 10: "call barred",
    21: "short message transfer rejected", 27: "destination out of service",
    38: "network out of order", 41: "temporary failure", 42: "congestion",
    47: "resources unavailable", 50: "facility not subscribed", 96: "invalid mandatory information",
    300: "ME failure", 302: "operation not allowed", 304: "invalid PDU mode parameter",
    310: "SIM not inserted", 314: "SIM busy", 321: "invalid memory index", 322: "memory full",
    330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
    500: "unknown error",
}  # fmt: skip
# Lines a modem sends by itself. A line "+X: ..." answers the pending command when that command
# is "AT+X..." (so +CSQ is the answer to AT+CSQ, a notification otherwise).
_URC_PREFIXES = (
    *("+CMTI:", "+CDSI:", "+CMT:", "+CDS:", "RING", "+CSQ:", "^RSSI:", "^HCSQ:", "+CREG:"),
    *("+CGREG:", "+CEREG:", "+CLIP:", "+CUSD:", "^BOOT:", "^MODE:", "^SRVST:", "^SIMST:"),
    *("+QIND:", "+PBREADY", "^DSFLOWRPT:", "NO CARRIER"),
)
# Notifications whose PDU comes on the next line (TS 27.005 3.4.1).
_TWO_LINE_URCS = ("+CDS:", "+CMT:")
_HEX_RE = re.compile(r"[0-9A-Fa-f]+")
_ERROR_RE = re.compile(r"^(?:\+(CMS|CME) ERROR:\s*(.*)|ERROR|COMMAND NOT SUPPORT)$")
_MAX_LINE = 65_536


class ModemError(Exception):
    """The modem did not do what was asked."""


class AtError(ModemError):
    """A command ended in ``ERROR``, ``+CMS ERROR: n`` or ``+CME ERROR: n``."""

    def __init__(self, line: str, kind: str = "", code: int | None = None) -> None:
        self.kind, self.code = kind, code
        detail = _CMS_TEXT.get(code, "") if kind == "CMS" and code is not None else ""
        super().__init__(f"{line} ({detail})" if detail else line)


class ModemUnavailable(ModemError):
    """The modem stopped answering or the port closed; ``data_sent``: after the PDU went."""

    def __init__(self, message: str, *, data_sent: bool = False) -> None:
        super().__init__(message)
        self.data_sent = data_sent


@dataclass
class _Pending:
    command: str
    done: asyncio.Future[None]
    prompt: asyncio.Future[None]
    lines: list[str]
    error: AtError | None = None
    data_sent: bool = False


class AtChannel:
    """One open port: writes commands, reads lines, routes them (see the module docstring)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_urc: Callable[[str, str | None], None],
        on_closed: Callable[[], None],
    ) -> None:
        self._reader, self._writer = reader, writer
        self._on_urc, self._on_closed = on_urc, on_closed
        self._pending: _Pending | None = None
        self._urc_head: str | None = None  # a two-line notification awaiting its PDU line
        self.closed = False
        self._task = asyncio.create_task(self._read_lines())

    async def command(self, command: str, *, wait: float, data: str | None = None) -> list[str]:
        loop = asyncio.get_running_loop()
        pending = _Pending(command, loop.create_future(), loop.create_future(), [])
        if self.closed:
            raise ModemUnavailable("the serial port is closed")
        self._pending = pending
        try:
            async with asyncio.timeout(wait):
                self._writer.write(command.encode() + b"\r")
                if data is not None:
                    await asyncio.wait(
                        (pending.done, pending.prompt), return_when=asyncio.FIRST_COMPLETED
                    )
                    if not pending.done.done():
                        pending.data_sent = True
                        self._writer.write(data.encode() + b"\x1a")
                await pending.done
        except TimeoutError:
            raise ModemUnavailable(f"no answer to {command}", data_sent=pending.data_sent) from None
        except ModemUnavailable as exc:
            raise ModemUnavailable(str(exc), data_sent=pending.data_sent) from None
        except asyncio.CancelledError:
            # Its answer may still come and be taken for the next command's: start afresh.
            self.closed = True
            self._on_closed()
            raise
        finally:
            self._pending = None
        if pending.error is not None:
            raise pending.error
        return pending.lines

    async def _read_lines(self) -> None:
        buffer = b""
        try:
            while chunk := await self._reader.read(4096):
                buffer += chunk
                while True:
                    buffer = buffer.lstrip(b"\r\n")
                    pending = self._pending
                    if buffer.startswith(b">") and pending and not pending.prompt.done():
                        pending.prompt.set_result(None)  # "> ": send the PDU now
                        buffer = buffer[1:].lstrip(b" ")
                        continue
                    end = re.search(rb"[\r\n]", buffer)
                    if end is None:
                        break
                    line, buffer = buffer[: end.start()], buffer[end.end() :]
                    self._route(line.decode("ascii", "replace").strip())
                if len(buffer) > _MAX_LINE:
                    buffer = b""
        except (OSError, ConnectionError) as exc:
            log.debug("reading the modem failed: %s", exc)
        finally:
            self.closed = True
            pending = self._pending
            if pending is not None and not pending.done.done():
                pending.done.set_exception(ModemUnavailable("the serial port closed"))
            self._on_closed()

    def _route(self, line: str) -> None:
        pending = self._pending
        if not line or (pending is not None and line == pending.command):  # empty or echo
            return
        head, self._urc_head = self._urc_head, None
        if head is not None:
            if _HEX_RE.fullmatch(line):
                self._on_urc(head, line)
                return
            self._on_urc(head, None)  # its PDU never came: this line is an ordinary one
        if pending is None or pending.done.done() or not _answers(line, pending.command):
            if line.startswith(_TWO_LINE_URCS):
                self._urc_head = line
            else:
                self._on_urc(line, None)
        elif line == "OK":
            pending.done.set_result(None)
        elif match := _ERROR_RE.match(line):
            kind, detail = match.group(1) or "", (match.group(2) or "").strip()
            pending.error = AtError(line, kind, int(detail) if detail.isdigit() else None)
            pending.done.set_result(None)
        else:
            pending.lines.append(line)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._writer.wait_closed()


def _answers(line: str, command: str) -> bool:
    """Whether ``line`` belongs to the answer of ``command`` rather than being a notification."""
    prefix = line.partition(":")[0]
    if line[:1] in "+^" and ":" in line and command.upper().startswith("AT" + prefix):
        return True
    return not line.startswith(_URC_PREFIXES)
