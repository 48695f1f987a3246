"""Which sent message a modem's status report is about: the message references (TP-MR).

The modem answers each ``AT+CMGS`` with the reference it gave the part (``+CMGS: <mr>``); the
network's status report (3GPP TS 23.040 SMS-STATUS-REPORT) names the part by that reference only.
:class:`MessageReferences` keeps the reference of every part sent, mapped to its message's GUID
for the last part (the one whose report counts) and to None for earlier parts, and keeps it in the
agent's state file: a report can come minutes or hours after the send, and an agent restarted in
between must still recognise it. TP-MR is one octet, so the map never holds more than 256
references; a reused reference replaces the old one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from simgate.agent import pdu
from simgate.agent.drivers.base import DriverState, Json

__all__ = ["MAX_REFERENCES", "MessageReferences"]

log = logging.getLogger(__name__)

MAX_REFERENCES = 256
"""TP-MR is one octet (TS 23.040 9.2.3.6): more references than this cannot be told apart."""

# TS 23.040 9.2.3.15: received by the recipient (0x00), forwarded with no confirmation (0x01),
# replaced (0x02); 0x20-0x2F: the service centre is still trying.
_DELIVERED = range(0x03)
_STILL_TRYING = range(0x20, 0x30)


class MessageReferences:
    """The references of sent parts, newest last, saved to a :class:`DriverState` if given."""

    def __init__(self, port: str) -> None:
        self._port = port  # for the log
        self._guids: OrderedDict[int, str | None] = OrderedDict()
        self._state: DriverState | None = None

    def use_state(self, state: DriverState) -> None:
        """Take the references an earlier run saved and save every change from now on.

        A document this version cannot read is logged and dropped: at worst a few delivery
        reports go unrecognised, which is better than an agent that does not start.
        """
        self._state = state
        document = state.load()
        if document is None:
            return
        entries = document.get("references") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            log.warning("modem on %s: unreadable saved message references; ignored", self._port)
            return
        for entry in entries:
            match entry:
                case [int(reference), str() | None as guid] if 0 <= reference < MAX_REFERENCES:
                    self._guids[reference] = guid
                case _:
                    log.warning("modem on %s: bad saved reference %r; ignored", self._port, entry)

    def __contains__(self, reference: int) -> bool:
        return reference in self._guids

    def sent(self, reference: int, guid: str | None) -> None:
        """Part ``reference`` went out; ``guid`` for a message's last part, None otherwise."""
        self._guids.pop(reference, None)
        self._guids[reference] = guid
        while len(self._guids) > MAX_REFERENCES:
            self._guids.popitem(last=False)
        self._save()

    def delivered(self, report: pdu.StatusReport) -> str | None:
        """The GUID ``report`` says was delivered, or None (logged): a reference not known, a
        network still trying (the reference is kept for the next report), an earlier part's
        report, or a final failure (the message stays ``sent``: the operator took it)."""
        reference = report.message_reference
        if reference not in self._guids:
            log.info(
                "modem on %s: status report for unknown message reference %d; ignored",
                self._port,
                reference,
            )
            return None
        if report.status in _STILL_TRYING:
            log.debug("modem on %s: message reference %d still on its way", self._port, reference)
            return None
        guid = self._guids.pop(reference)
        self._save()
        if guid is None:  # an earlier part of a long SMS: its last part's report counts
            return None
        if report.status not in _DELIVERED:
            log.info(
                "modem on %s: %s not delivered (status %#04x)", self._port, guid, report.status
            )
            return None
        log.info("modem on %s: %s delivered", self._port, guid)
        return guid

    def _save(self) -> None:
        if self._state is not None:
            entries: list[Json] = [[reference, guid] for reference, guid in self._guids.items()]
            self._state.save({"references": entries})
