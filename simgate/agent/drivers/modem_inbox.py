"""What a modem holds in its SMS storage, and when the driver may delete it.

A received SMS stays on the SIM (or in the modem's memory) until the *server* has acknowledged
it: the agent's outbox could be lost with the machine it runs on, the SIM cannot. So the driver
reads an SMS (``AT+CMGR`` when ``+CMTI`` announces it, ``AT+CMGL`` once at start-up and after each
reopening of the port, and now and then in case an announcement was lost), hands it to the runner
with a ``ref`` naming the storage slots it came from, and deletes those slots (``AT+CMGD``) only
when the runner passes the server's ack back with that ``ref``, possibly in a later run.

Every slot is named by its index *and* a digest of the PDU it holds (:class:`Slot`), for two
reasons: the same SMS read again gives the same ``key`` and hence the same frame id, which the
server stores once however often it arrives (a restart between reading and the ack, or between
the ack and the delete); and a delete checks that the slot still holds that PDU, so an ack that
comes late never deletes a newer SMS that took the freed index.

:class:`ModemInbox` is the bookkeeping (no I/O): slots handed over and not deleted yet, slots left
alone, parts of long SMS waiting for the others, and slots to delete. :class:`ModemStorage` asks
the modem, through the driver's one command queue, and applies the bookkeeping.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from simgate.agent import pdu
from simgate.agent.drivers.at import AtError, ModemUnavailable
from simgate.agent.drivers.base import InboundSms

__all__ = [
    "ModemInbox",
    "ModemStorage",
    "ReportHandler",
    "Slot",
    "Whole",
    "listed",
    "parse_ref",
    "pdu_digest",
    "read_answer",
    "slots_ref",
]

log = logging.getLogger(__name__)

_LIST_RE = re.compile(r"^\+CMGL:\s*(\d+),\s*(\d+)")
_READ_RE = re.compile(r"^\+CMGR:\s*(\d+)")
_SLOT_RE = re.compile(r"^(\d{1,5}):([0-9a-f]{32})$")
_INVALID_INDEX = 321  # +CMS ERROR: 321, an empty slot

Command: TypeAlias = Callable[[str], Awaitable[list[str]]]
"""Send one AT command and return its answer lines (the driver's command queue)."""

ReportHandler: TypeAlias = Callable[[pdu.StatusReport, str], bool | None]
"""What the driver does with a status report stored under ``ref``: True when it handed it over
(deleted once acknowledged), False when there was nothing to hand over (deleted at once), None
when the report is about a message this agent does not know (left on the SIM)."""


def pdu_digest(pdu_hex: str) -> str:
    """128 bits of SHA-256 of a PDU as the modem lists it (the hex case does not matter)."""
    return hashlib.sha256(pdu_hex.strip().upper().encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """Storage index ``index`` holding the PDU whose :func:`pdu_digest` is ``digest``."""

    index: int
    digest: str


def slots_ref(slots: Sequence[Slot]) -> str:
    """The ``ref`` (and ``key``) of an SMS stored in ``slots``: ``"3:<digest>,4:<digest>"``."""
    return ",".join(f"{slot.index}:{slot.digest}" for slot in slots)


def parse_ref(ref: str) -> tuple[Slot, ...]:
    """The slots of a :func:`slots_ref`; ``ValueError`` for anything else."""
    slots = []
    for part in ref.split(","):
        match = _SLOT_RE.match(part)
        if match is None:
            raise ValueError(f"not a modem storage reference: {ref!r}")
        slots.append(Slot(int(match.group(1)), match.group(2)))
    return tuple(slots)


def listed(lines: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(index, status, pdu)`` of each ``+CMGL:`` header and the PDU line after it."""
    found = []
    for header, body in itertools.pairwise(lines):
        if match := _LIST_RE.match(header):
            found.append((int(match.group(1)), int(match.group(2)), body))
    return found


def read_answer(lines: Sequence[str]) -> tuple[int, str] | None:
    """``(status, pdu)`` from the answer to ``AT+CMGR``; None for an empty slot (some modems
    answer a bare ``OK``, others ``+CMS ERROR: 321``, which the caller treats the same)."""
    for header, body in itertools.pairwise(lines):
        if match := _READ_RE.match(header):
            return int(match.group(1)), body
    return None


@dataclass(frozen=True, slots=True)
class Whole:
    """A received SMS ready to hand over: its parts in order and the slots they are in."""

    slots: tuple[Slot, ...]
    parts: tuple[pdu.Deliver, ...]

    @property
    def at_ms(self) -> int:
        return min(part.at_ms for part in self.parts)

    def inbound(self, sim: int | None) -> InboundSms:
        """The SMS for the runner, keyed and referenced by its slots (see the module)."""
        ref = slots_ref(self.slots)
        return InboundSms(
            number=self.parts[0].sender,
            text=pdu.join_texts([part.text for part in self.parts]),
            at_ms=self.at_ms,
            sim=sim,
            key=ref,
            ref=ref,
        )


_GroupKey = tuple[str, int, int]  # sender, concatenation reference, number of parts


class ModemInbox:
    """The driver's view of the modem's storage (see the module docstring).

    ``multipart_wait_ms``: how long the parts of a long SMS are awaited, from the first part's
    time stamp, before what came is handed over as it is.
    """

    def __init__(self, multipart_wait_ms: int) -> None:
        self._wait_ms = multipart_wait_ms
        self._held: dict[int, str] = {}  # index -> digest: handed over (or waiting), not deleted
        self._ignored: dict[int, str] = {}  # index -> digest: left on the SIM on purpose
        self._groups: dict[_GroupKey, dict[int, tuple[Slot, pdu.Deliver]]] = defaultdict(dict)
        self._to_delete: set[Slot] = set()

    def known(self, slot: Slot) -> bool:
        """Whether ``slot`` was read before and needs nothing more (a same index with another
        PDU is a new SMS: the old one went and the index was reused)."""
        return slot.digest in (self._held.get(slot.index), self._ignored.get(slot.index))

    def hold(self, slot: Slot) -> None:
        """``slot`` is handed over (or part of an SMS being handed over): not read again."""
        self._ignored.pop(slot.index, None)
        self._held[slot.index] = slot.digest

    def ignore(self, slot: Slot) -> None:
        """Leave ``slot`` on the SIM and do not look at it again (undecodable, not ours)."""
        self._held.pop(slot.index, None)
        self._ignored[slot.index] = slot.digest

    def take(self, slot: Slot, sms: pdu.Deliver) -> Whole | None:
        """Add a received part; the whole SMS once every part of it is there."""
        self.hold(slot)
        if sms.concat is None or sms.concat.total <= 1:
            return Whole((slot,), (sms,))
        key = (sms.sender, sms.concat.reference, sms.concat.total)
        parts = self._groups[key]
        parts.setdefault(sms.concat.sequence, (slot, sms))
        if len(parts) < sms.concat.total:
            return None
        return self._whole(key)

    def overdue(self, now_ms: int) -> list[Whole]:
        """Long SMS whose missing parts did not come in time, as far as they came."""
        late = [
            key
            for key, parts in self._groups.items()
            if now_ms - min(sms.at_ms for _, sms in parts.values()) >= self._wait_ms
        ]
        return [self._whole(key) for key in late]

    def _whole(self, key: _GroupKey) -> Whole:
        parts = self._groups.pop(key)
        ordered = [parts[sequence] for sequence in sorted(parts)]
        return Whole(tuple(slot for slot, _ in ordered), tuple(sms for _, sms in ordered))

    def delete_later(self, slots: Sequence[Slot]) -> None:
        """The server has these slots' SMS (or there is nothing to hand over): delete them."""
        self._to_delete.update(slots)

    def deletions(self) -> list[Slot]:
        """Slots waiting to be deleted, by index."""
        return sorted(self._to_delete)

    def deleted(self, slot: Slot) -> None:
        """``slot`` is dealt with: deleted, found empty, or found holding another PDU."""
        self._to_delete.discard(slot)
        for seen in (self._held, self._ignored):
            if seen.get(slot.index) == slot.digest:
                del seen[slot.index]


class ModemStorage:
    """Reads what the modem stores, hands over each whole SMS, deletes what the server has.

    ``command`` runs one AT command; ``on_sms`` takes each whole received SMS (an
    :class:`InboundSms` with ``key`` and ``ref``), ``on_report`` each stored status report.
    """

    def __init__(
        self,
        port: str,
        command: Command,
        *,
        multipart_wait_ms: int,
        sim: int | None,
        on_sms: Callable[[InboundSms], None],
        on_report: ReportHandler,
    ) -> None:
        self._port, self._command, self._sim = port, command, sim
        self._on_sms, self._on_report = on_sms, on_report
        self.inbox = ModemInbox(multipart_wait_ms)
        self.to_read: dict[int, None] = {}
        """Indexes ``+CMTI``/``+CDSI`` announced and not read yet, in order."""

    async def sweep(self) -> None:
        """List every stored SMS (``AT+CMGL=4``) and take those not read yet: what arrived while
        the agent or the port was down, or whose ``+CMTI`` got lost."""
        wholes: list[Whole] = []
        for index, status, pdu_hex in listed(await self._command("AT+CMGL=4")):
            wholes += self._take(index, status, pdu_hex)
        self._hand_over(wholes)

    async def read_announced(self) -> None:
        """Read each announced slot with ``AT+CMGR``."""
        while self.to_read:
            index = next(iter(self.to_read))
            try:
                answer = read_answer(await self._command(f"AT+CMGR={index}"))
            except AtError as exc:
                if exc.code != _INVALID_INDEX:
                    log.warning("modem on %s: reading SMS %d: %s", self._port, index, exc)
                answer = None
            if answer is not None:
                self._hand_over(self._take(index, *answer))
            self.to_read.pop(index, None)

    def hand_over_overdue(self, now_ms: int) -> None:
        """Hand over long SMS whose missing parts are overdue, as far as they came."""
        self._hand_over(self.inbox.overdue(now_ms))

    def _take(self, index: int, status: int, pdu_hex: str) -> list[Whole]:
        """Account for one stored PDU; the received SMS it completes, if any."""
        if status > 1:
            return []  # drafts and sent SMS (2, 3) are the owner's
        slot = Slot(index, pdu_digest(pdu_hex))
        if self.inbox.known(slot):
            return []
        try:
            sms = pdu.decode(pdu_hex)
        except pdu.PduError as exc:
            log.warning("modem on %s: SMS %d undecodable (%s); left", self._port, index, exc)
            self.inbox.ignore(slot)
            return []
        if isinstance(sms, pdu.StatusReport):  # stored (+CDSI) rather than routed (+CDS)
            handed = self._on_report(sms, slots_ref([slot]))
            if handed is None:
                self.inbox.ignore(slot)
            else:
                self.inbox.hold(slot)
                if not handed:
                    self.inbox.delete_later([slot])
            return []
        if not isinstance(sms, pdu.Deliver):
            self.inbox.ignore(slot)
            return []
        whole = self.inbox.take(slot, sms)
        return [] if whole is None else [whole]

    def _hand_over(self, wholes: Sequence[Whole]) -> None:
        for whole in sorted(wholes, key=lambda w: (w.at_ms, w.slots)):
            log.info("modem on %s received an SMS in %d part(s)", self._port, len(whole.slots))
            self._on_sms(whole.inbound(self._sim))

    def acknowledged(self, ref: str) -> bool:
        """The server has what the slots of ``ref`` hold: delete them at the next
        :meth:`flush_deletes`. False (logged) for a ``ref`` that names no slot."""
        try:
            slots = parse_ref(ref)
        except ValueError:
            log.warning("modem on %s: acknowledgement for %r, not a storage slot", self._port, ref)
            return False
        self.inbox.delete_later(slots)
        return True

    async def flush_deletes(self) -> None:
        """Delete (``AT+CMGD``) each slot due for deletion that still holds the PDU read from
        it. A modem that stops answering leaves the rest for later."""
        for slot in self.inbox.deletions():
            try:
                answer = read_answer(await self._command(f"AT+CMGR={slot.index}"))
                if answer is not None and pdu_digest(answer[1]) == slot.digest:
                    await self._command(f"AT+CMGD={slot.index}")
                elif answer is not None:  # the SMS went and another took its index: keep it
                    log.info("modem on %s: SMS %d changed; not deleted", self._port, slot.index)
                    self.to_read[slot.index] = None
            except AtError as exc:  # already gone (invalid index): nothing left to do
                if exc.code != _INVALID_INDEX:
                    log.warning("modem on %s: deleting SMS %d: %s", self._port, slot.index, exc)
            except ModemUnavailable:
                return
            self.inbox.deleted(slot)
