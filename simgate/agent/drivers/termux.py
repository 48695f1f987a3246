"""An Android phone running Termux with the Termux:API app: ``simgate agent --driver termux``.

Everything goes through the ``termux-*`` commands of the ``termux-api`` package, run as
subprocesses (never through a shell) with a timeout, because a Termux:API app that is missing,
killed by battery optimisation or waiting for a permission makes them hang forever.

What the commands allow shapes the driver:

* ``termux-sms-send -n NUMBER [-s SLOT]`` reads the text on stdin (as argument it goes through
  ``echo``, which mangles backslashes) and hands it to Android's ``SmsManager``, which splits it
  into parts. Android's slots count from 0, ours from 1: SIM 1 is ``-s 0``. The command only says
  whether Android took the message, never whether the network did, so a failure is never an
  operator error (the server then does not retry on its own, and nothing is sent twice).
* ``termux-sms-list -t inbox|sent -l LIMIT -o OFFSET`` is the only way to learn about SMS: the
  driver polls it and keeps, per box, a cursor (the highest ``_id`` reported) in
  ``termux.json`` in the agent's state folder, advanced only once the runner has stored the
  SMS durably (when it asks for the next event). On the very first run the cursors start at the
  newest SMS, so the phone's history is not replayed (``import_last`` brings in the last N).
* Android writes what this agent sends into the sent box too; those are told apart from SMS the
  owner typed by remembering (number, digest of the text) of each send for an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from simgate.agent.drivers.base import (
    Driver,
    DriverEvent,
    InboundSms,
    OutgoingSms,
    OwnerSentSms,
    RadioOutcome,
    StatusUpdate,
)
from simgate.agent.statefile import atomic_write
from simgate.protocol import now_ms

__all__ = ["ANDROID_SEND_LIMIT", "STATE_FILE_NAME", "TermuxDriver", "TermuxError", "detect_sims"]

log = logging.getLogger(__name__)

ANDROID_SEND_LIMIT = (30, 60)
"""Android lets one app send 30 SMS per 60 s before it asks the user; the server paces under it."""
STATE_FILE_NAME = "termux.json"
_FORMAT = "simgate-termux-cursors"
_OWN_SEND_MEMORY_MS = 3600 * 1000
_EARLY_MS = 5 * 60 * 1000  # the phone's clock and ours may disagree a little
_SEND = "termux-sms-send"
_LIST = "termux-sms-list"
_BATTERY = "termux-battery-status"
_DEVICE = "termux-telephony-deviceinfo"
_START_TIMEOUT = 5.0
_APP_HINT = "is the Termux:API app installed, and exempt from battery optimisation?"


class TermuxError(Exception):
    """A ``termux-*`` command was missing, hung, failed or printed an error; text for a person."""


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _same_number(a: str, b: str) -> bool:
    """Same phone number whether written nationally or internationally (last 9 digits)."""
    da, db = _digits(a), _digits(b)
    if not da or not db:
        return a.strip().casefold() == b.strip().casefold()
    return da[-9:] == db[-9:]


def _digest(text: str) -> str:
    # Termux:API trims the text it sends, and Android stores what was sent.
    return hashlib.sha256(text.strip().encode()).hexdigest()[:32]


def _phone_time_ms(received: object) -> int:
    """``received`` (``YYYY-MM-DD HH:MM:SS`` in the phone's local time) in Unix ms; now if odd."""
    if isinstance(received, str):
        with contextlib.suppress(ValueError, OverflowError):
            return int(time.mktime(time.strptime(received, "%Y-%m-%d %H:%M:%S")) * 1000)
    return now_ms()


def _kill(process: asyncio.subprocess.Process | subprocess.Popen[bytes]) -> None:
    # The termux-* scripts start ``termux-api``, which is what hangs: kill the whole group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _check(name: str, code: int, stdout: bytes, stderr: bytes) -> str:
    """The command's output, or :class:`TermuxError` for a failure or an ``{"error": …}``."""
    out = stdout.decode(errors="replace").strip()
    if code != 0:
        said = (stderr.decode(errors="replace").strip() or out).splitlines()
        raise TermuxError(
            f"{name} failed (exit status {code}): {said[-1] if said else 'no output'}"
        )
    if out.startswith("{") and '"error"' in out:
        with contextlib.suppress(ValueError):
            error = json.loads(out).get("error")
            if error:
                # Termux:API's answer to a missing permission; it also opens the prompt.
                raise TermuxError(f"{name}: {error}")
    return out


def detect_sims(timeout: float = 30.0) -> tuple[int, ...] | None:
    """The phone's SIM slots (1..``phone_count``) from ``termux-telephony-deviceinfo``.

    Blocking, for the command line before the agent's loop starts; None (with a warning in the
    log) when the command cannot tell.
    """
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [_DEVICE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        log.warning("cannot detect the SIM slots: %s: %s", _DEVICE, exc)
        return None
    with process:  # closes the pipes, also after a timeout
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            info = json.loads(_check(_DEVICE, process.returncode, stdout, stderr))
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            log.warning("cannot detect the SIM slots: %s hung; %s", _DEVICE, _APP_HINT)
            return None
        except (TermuxError, ValueError) as exc:
            log.warning("cannot detect the SIM slots: %s", exc)
            return None
    count = info.get("phone_count") if isinstance(info, dict) else None
    if not isinstance(count, int) or count < 1:
        return None
    return tuple(range(1, count + 1))


@dataclass(frozen=True, slots=True)
class _Sms:
    id: int
    number: str
    text: str
    at_ms: int


def _parse_list(name: str, out: str) -> list[_Sms]:
    try:
        items = json.loads(out or "[]")
    except ValueError as exc:
        raise TermuxError(f"{name} printed something that is not JSON: {out[:80]!r}") from exc
    if not isinstance(items, list):
        raise TermuxError(f"{name} printed {type(items).__name__} where a list was expected")
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("_id"), int):
            number = item.get("number") or item.get("address") or ""
            found.append(
                _Sms(
                    id=item["_id"],
                    number=str(number),
                    text=str(item.get("body") or ""),
                    at_ms=_phone_time_ms(item.get("received")),
                )
            )
    return found


class TermuxDriver(Driver):
    """Sends and reads SMS through Termux:API; see the module docstring for how and why.

    ``state_file`` keeps the cursors across restarts (``<state dir>/termux.json``).
    ``command_timeout`` bounds every command; ``poll_interval`` is how often the inbox and the
    sent box are read, ``status_interval`` how often the battery is; ``page_size`` how many SMS
    one ``termux-sms-list`` call returns; ``import_last`` how many existing inbox SMS the first
    run reports (0: none, start after the newest).
    """

    name: ClassVar[str] = "termux"
    send_limit = ANDROID_SEND_LIMIT

    def __init__(
        self,
        *,
        state_file: Path,
        sims: Sequence[int] = (1,),
        command_timeout: float = 30.0,
        poll_interval: float = 5.0,
        status_interval: float = 60.0,
        page_size: int = 50,
        import_last: int = 0,
    ) -> None:
        if command_timeout <= 0 or poll_interval <= 0 or status_interval <= 0:
            raise ValueError("timeouts and intervals must be > 0")
        if page_size < 1 or import_last < 0:
            raise ValueError("page_size must be >= 1 and import_last >= 0")
        super().__init__(sims=sims, capabilities=("sms",))
        self.state_file = state_file
        self.command_timeout = command_timeout
        self.poll_interval = poll_interval
        self.status_interval = status_interval
        self.page_size = page_size
        self.import_last = import_last
        self._cursors: dict[str, int | None] = {"inbox": None, "sent": None}
        self._own: list[dict[str, Any]] = []
        self._send_lock = asyncio.Lock()
        self._save_lock = asyncio.Lock()  # one write at a time, so an older one never wins
        self._failing: dict[str, str] = {}
        self._loaded = False

    # ------------------------------------------------------------------ commands and state

    async def _run(self, *argv: str, stdin: str | None = None, seconds: float | None = None) -> str:
        """Run one command with the timeout; its stdout, or :class:`TermuxError`."""
        name = argv[0]
        timeout = seconds or self.command_timeout
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise TermuxError(
                f"{name} not found: install the Termux:API commands with `pkg install termux-api`"
            ) from None
        except OSError as exc:
            raise TermuxError(f"cannot run {name}: {exc}") from exc
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await process.communicate(
                    stdin.encode() if stdin is not None else None
                )
        except TimeoutError:
            raise TermuxError(f"{name} did not answer within {timeout:g} s; {_APP_HINT}") from None
        finally:
            if process.returncode is None:
                _kill(process)
                await process.wait()
        assert process.returncode is not None  # noqa: S101 - communicate() waited for it
        return _check(name, process.returncode, stdout, stderr)

    async def _save(self) -> None:
        async with self._save_lock:
            document = {"format": _FORMAT, "version": 1, **self._cursors, "own_sends": self._own}
            data = json.dumps(document, separators=(",", ":")).encode()
            await asyncio.to_thread(atomic_write, self.state_file, data, prefix=".termux-")

    def _load(self) -> None:
        """Read the cursors once (start() does; events() and send() make sure, since a save
        before the load would overwrite them)."""
        if self._loaded:
            return
        self._loaded = True
        if not self.state_file.exists():
            return
        try:
            data = json.loads(self.state_file.read_bytes())
            if data.get("format") != _FORMAT:
                raise ValueError("not a termux cursor file")
        except (ValueError, AttributeError) as exc:
            # Starting the cursors afresh would only skip SMS, never send any twice; say so.
            log.error(
                "ignoring the unreadable %s (%s): starting after the newest SMS",
                self.state_file,
                exc,
            )
            return
        for box in self._cursors:
            value = data.get(box)
            self._cursors[box] = value if isinstance(value, int) else None
        own = data.get("own_sends")
        self._own = (
            [entry for entry in own if isinstance(entry, dict)] if isinstance(own, list) else []
        )

    def _failed(self, what: str, exc: TermuxError) -> None:
        """Log a polling failure once (a failing poll every few seconds would flood the log)."""
        if self._failing.get(what) != str(exc):
            log.warning("%s: %s (retrying every %g s)", what, exc, self.poll_interval)
        self._failing[what] = str(exc)

    def _works(self, what: str) -> None:
        if self._failing.pop(what, None) is not None:
            log.info("%s works again", what)

    # ------------------------------------------------------------------ lifecycle and send

    async def start(self) -> None:
        """Load the cursors and say in the log what the phone looks like."""
        self._load()
        try:
            # Briefly: the agent connects only after start(), and this is only for the log.
            info = json.loads(await self._run(_DEVICE, seconds=_START_TIMEOUT) or "{}")
            operator = info.get("network_operator_name") or "unknown"
            log.info(
                "termux: SIM slot(s) %s, operator %s, SIM %s",
                ", ".join(map(str, self.sims)),
                operator,
                info.get("sim_state", "unknown"),
            )
        except (TermuxError, ValueError, AttributeError) as exc:
            log.warning("termux: cannot read the phone's telephony info: %s", exc)

    async def send(self, message: OutgoingSms) -> RadioOutcome:
        """Hand one SMS to Android with ``termux-sms-send``, one at a time."""
        if message.channel == "whatsapp":
            return RadioOutcome.failure("the termux driver cannot send WhatsApp", operator=False)
        if not message.to.strip() or re.search(r"[\s,]", message.to):
            # termux-sms-send splits its -n argument on commas and spaces.
            return RadioOutcome.failure(f"cannot send to {message.to!r}", operator=False)
        argv = [_SEND, "-n", message.to]
        if message.sim is not None:
            argv += ["-s", str(message.sim - 1)]  # Android counts slots from 0
        self._load()
        async with self._send_lock:
            try:
                await self._run(*argv, stdin=message.text)
            except TermuxError as exc:
                log.warning("%s not sent: %s", message.guid, exc)
                return RadioOutcome.failure(str(exc), operator=False)
            at = now_ms()
            self._own.append({"number": message.to, "digest": _digest(message.text), "at": at})
            await self._save()
        return RadioOutcome.success(message.sim, at_ms=at)

    async def read_status(self) -> StatusUpdate:
        """Battery level and charging from ``termux-battery-status`` (signal: not available)."""
        info = json.loads(await self._run(_BATTERY) or "{}")
        battery = info.get("percentage")
        if not isinstance(battery, int):
            level, scale = info.get("level"), info.get("scale")
            ok = isinstance(level, int) and isinstance(scale, int) and scale > 0
            battery = round(level * 100 / scale) if ok else None
        plugged, state = info.get("plugged"), info.get("status")
        charging: bool | None = None
        if isinstance(plugged, str):
            charging = plugged != "UNPLUGGED"
        elif isinstance(state, str) and state != "UNKNOWN":
            charging = state in ("CHARGING", "FULL")
        return StatusUpdate(battery=battery, signal=None, charging=charging)

    # ------------------------------------------------------------------ events

    async def events(self) -> AsyncIterator[DriverEvent]:
        """New inbox SMS, SMS the owner sent, and battery changes, polled forever."""
        self._load()
        last_status: StatusUpdate | None = None
        next_status = 0.0
        loop = asyncio.get_running_loop()
        while True:
            for sms in await self._new("inbox"):
                log.info("termux: SMS %d received", sms.id)
                yield InboundSms(number=sms.number, text=sms.text, at_ms=sms.at_ms)
                await self._advance("inbox", sms.id)  # stored by the runner: asked for the next
            for sms in await self._new("sent"):
                if self._own_send(sms):
                    await self._advance("sent", sms.id)
                    continue
                log.info("termux: SMS %d typed on the phone", sms.id)
                yield OwnerSentSms(number=sms.number, text=sms.text, at_ms=sms.at_ms)
                await self._advance("sent", sms.id)
            if loop.time() >= next_status:
                next_status = loop.time() + self.status_interval
                try:
                    status = await self.read_status()
                    self._works(_BATTERY)
                except (TermuxError, ValueError, AttributeError) as exc:
                    self._failed(_BATTERY, TermuxError(str(exc)))
                else:
                    if status != last_status:
                        last_status = status
                        yield status
            await asyncio.sleep(self.poll_interval)

    async def _advance(self, box: str, sms_id: int) -> None:
        self._cursors[box] = max(sms_id, self._cursors[box] or 0)
        await self._save()

    async def _list(self, box: str, limit: int, offset: int) -> list[_Sms]:
        out = await self._run(_LIST, "-t", box, "-l", str(limit), "-o", str(offset))
        return _parse_list(_LIST, out)

    async def _new(self, box: str) -> list[_Sms]:
        """SMS of ``box`` past its cursor, oldest first; [] (logged) if the phone cannot tell."""
        what = f"{_LIST} -t {box}"
        try:
            cursor = self._cursors[box]
            if cursor is None:
                await self._first_cursor(box)
                cursor = self._cursors[box]
            assert cursor is not None  # noqa: S101 - set by _first_cursor
            found: list[_Sms] = []
            offset = 0
            while True:
                # Newest first, page by page, until a page reaches SMS already reported.
                page = await self._list(box, self.page_size, offset)
                fresh = [sms for sms in page if sms.id > cursor]
                found += fresh
                if len(page) < self.page_size or len(fresh) < len(page):
                    break
                offset += self.page_size
        except TermuxError as exc:
            self._failed(what, exc)
            return []
        self._works(what)
        unique = {sms.id: sms for sms in found}
        return [unique[key] for key in sorted(unique)]

    async def _first_cursor(self, box: str) -> None:
        """First run: start after the newest SMS (inbox: keep the last ``import_last``)."""
        keep = self.import_last if box == "inbox" else 0
        page = await self._list(box, keep + 1, 0)
        ids = sorted((sms.id for sms in page), reverse=True)
        self._cursors[box] = ids[keep] if len(ids) > keep else 0
        await self._save()
        log.info(
            "termux: first run, %s starts after SMS id %d (%s)",
            box,
            self._cursors[box],
            f"importing the last {keep}" if keep else "earlier SMS are not reported",
        )

    def _own_send(self, sms: _Sms) -> bool:
        """Whether ``sms`` in the sent box is one this agent sent (then forget that send)."""
        now = now_ms()
        self._own = [e for e in self._own if now - int(e.get("at", 0)) < _OWN_SEND_MEMORY_MS]
        digest = _digest(sms.text)
        for entry in self._own:
            if (
                entry.get("digest") == digest
                and _same_number(str(entry.get("number", "")), sms.number)
                and sms.at_ms >= int(entry.get("at", 0)) - _EARLY_MS
            ):
                self._own.remove(entry)
                return True
        return False
