"""The ledger of GUID outcomes: what this device did with each message the server sent it.

It is what makes a GUID reach the radio at most once: a GUID is recorded as ``sending`` before
the driver gets it, and kept with its outcome afterwards, so a ``send`` the server repeats after
a reconnect is recognised and answered from here instead of being transmitted again. Settled
records stay for a while after the server has acknowledged their outcome (long enough to
recognise a late duplicate) and are then pruned. The ledger lives in memory;
:class:`~simgate.agent.outbox.Outbox` persists it and queues the outcome frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from simgate.protocol import FailedFrame, SentFrame, now_ms

__all__ = ["Ledger", "MessageRecord", "MessageState"]

MessageState: TypeAlias = Literal["sending", "sent", "failed"]


@dataclass(slots=True)
class MessageRecord:
    """What this device did with one GUID.

    ``frame_id`` is the id of the outcome frame the server has not acknowledged yet (None once
    acked). An acknowledged failure is the one case where a new ``send`` with the same GUID is
    transmitted again: the server has seen the failure, so the new ``send`` is its retry.
    """

    guid: str
    state: MessageState
    sim: int | None = None
    at: int = 0
    error: str = ""
    operator: bool = False
    frame_id: str | None = None
    updated: int = 0

    @property
    def may_transmit_again(self) -> bool:
        """True for a failure the server has acknowledged (so a resend is a deliberate retry)."""
        return self.state == "failed" and self.frame_id is None

    def outcome_frame(self, frame_id: str) -> SentFrame | FailedFrame:
        """The ``sent``/``failed`` frame reporting this record's outcome under ``frame_id``."""
        if self.state == "sent":
            return SentFrame(id=frame_id, guid=self.guid, sim=self.sim, at=self.at)
        return FailedFrame(
            id=frame_id, guid=self.guid, error=self.error, operator=self.operator, at=self.at
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "sim": self.sim,
            "at": self.at,
            "error": self.error,
            "operator": self.operator,
            "frame_id": self.frame_id,
            "updated": self.updated,
        }

    @classmethod
    def from_json(cls, guid: str, data: object) -> MessageRecord:
        if not isinstance(data, dict) or data.get("state") not in ("sending", "sent", "failed"):
            raise ValueError(f"bad record for {guid}")
        sim, at, updated = data.get("sim"), data.get("at", 0), data.get("updated", 0)
        error, operator = data.get("error", ""), data.get("operator")
        frame_id = data.get("frame_id")
        if not (
            (sim is None or isinstance(sim, int))
            and isinstance(at, int)
            and isinstance(updated, int)
            and isinstance(error, str)
            and isinstance(operator, bool)
            and (frame_id is None or isinstance(frame_id, str))
        ):
            raise ValueError(f"bad record for {guid}")
        return cls(
            guid=guid,
            state=cast(MessageState, data["state"]),
            sim=sim,
            at=at,
            error=error,
            operator=operator,
            frame_id=frame_id,
            updated=updated,
        )


class Ledger:
    """Records by GUID. Settled records whose outcome the server has acknowledged are kept for
    ``keep_done_ms`` (at most ``keep_done`` of them); the others are never dropped.

    The ledger does no I/O: its owner persists :meth:`to_json` after every change. The two
    changes that may turn out to be none, :meth:`forget` and :meth:`prune`, say whether they
    changed anything.
    """

    def __init__(self, *, keep_done: int, keep_done_ms: int) -> None:
        self._keep_done = keep_done
        self._keep_done_ms = keep_done_ms
        self._records: dict[str, MessageRecord] = {}

    def get(self, guid: str) -> MessageRecord | None:
        """The record of ``guid``, if the ledger remembers it."""
        return self._records.get(guid)

    def __getitem__(self, guid: str) -> MessageRecord:
        return self._records[guid]

    def unsettled(self) -> list[str]:
        """GUIDs still ``sending``, in the order they were first recorded."""
        return [guid for guid, record in self._records.items() if record.state == "sending"]

    def begin(self, guid: str) -> None:
        """Record ``guid`` as being handed to the radio."""
        self._records[guid] = MessageRecord(guid=guid, state="sending", updated=now_ms())

    def forget(self, guid: str) -> bool:
        """Drop ``guid`` if it is still ``sending`` (the radio never saw it); True if dropped."""
        record = self._records.get(guid)
        if record is not None and record.state == "sending":
            del self._records[guid]
            return True
        return False

    def settle(
        self, guid: str, *, ok: bool, sim: int | None, at: int | None, error: str, operator: bool
    ) -> MessageRecord:
        """Record the outcome of ``guid`` (replacing what was recorded) and return the record."""
        stamp = now_ms()
        record = MessageRecord(
            guid=guid,
            state="sent" if ok else "failed",
            sim=sim,
            at=stamp if at is None else at,
            error="" if ok else error,
            operator=False if ok else operator,
            updated=stamp,
        )
        self._records[guid] = record
        return record

    def acknowledged(self, guid: str, frame_id: str) -> None:
        """The server acknowledged the outcome frame ``frame_id`` of ``guid``."""
        record = self._records.get(guid)
        if record is not None and record.frame_id == frame_id:
            record.frame_id = None
            record.updated = now_ms()

    def prune(self) -> bool:
        """Drop acknowledged records past the retention limits; True if any was dropped."""
        done = sorted(
            (r for r in self._records.values() if r.state != "sending" and r.frame_id is None),
            key=lambda r: r.updated,
        )
        cutoff = now_ms() - self._keep_done_ms
        excess = len(done) - self._keep_done
        removed = False
        for index, record in enumerate(done):
            if index < excess or record.updated < cutoff:
                del self._records[record.guid]
                removed = True
        return removed

    def to_json(self) -> dict[str, Any]:
        """Every record as JSON, by GUID."""
        return {guid: record.to_json() for guid, record in self._records.items()}

    @staticmethod
    def parse(data: Any) -> dict[str, MessageRecord]:
        """Records from what :meth:`to_json` made; ``ValueError``, ``KeyError`` or ``TypeError``
        for a malformed document."""
        return {guid: MessageRecord.from_json(guid, record) for guid, record in dict(data).items()}

    def restore(self, records: dict[str, MessageRecord]) -> None:
        """Replace every record with ``records`` (from :meth:`parse`)."""
        self._records = records
