"""The agent's durable local state: frames the server has not acknowledged, and GUID outcomes.

Two promises of the device protocol rest on this state surviving a crash or a reboot:

* every state-changing frame (``sent``, ``failed``, ``received``, ``mobile_sent``) reaches the
  server at least once: it stays here, in its original order, until the server acks its id;
* a message GUID is handed to the radio at most once: a GUID is recorded as ``sending`` *before*
  the driver gets it, so a server resend after a reconnect, or after a crash in the middle of a
  send, never makes the recipient's phone buzz twice.

The :class:`Outbox` keeps the queue of unacknowledged frames itself, the GUID records in a
:class:`~simgate.agent.ledger.Ledger`, and writes both to one
:class:`~simgate.agent.statefile.StateFile`. Writes are grouped: every caller that needs
durability awaits :meth:`Outbox.commit`, and all changes made before a write starts share it, so a
burst of messages costs a few writes rather than one per message.

The same file carries what drivers ask to keep (:meth:`Outbox.driver_state`, a small JSON
document per driver name) and, with each pending frame, the driver's ``ref`` for the event it
came from: the server's ack for that frame reaches the driver (``on_acknowledged``) even when it
arrives after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from simgate.agent.drivers.base import Json
from simgate.agent.ledger import Ledger, MessageRecord
from simgate.agent.statefile import STATE_FILE_NAME, AgentStateError, StateFile
from simgate.protocol import (
    DeliveredFrame,
    FailedFrame,
    MobileSentFrame,
    ProtocolError,
    ReceivedFrame,
    SentFrame,
    new_frame_id,
    now_ms,
    parse_frame,
)

__all__ = [
    "STATE_FILE_NAME",
    "UNKNOWN_OUTCOME_ERROR",
    "AckedFrame",
    "AgentStateError",
    "DriverDocument",
    "MessageRecord",
    "Outbox",
    "PendingFrame",
]

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME_ERROR = (
    "outcome unknown: the agent stopped while handing this message to the radio, "
    "so it may or may not have been sent"
)

AckedFrame: TypeAlias = SentFrame | FailedFrame | DeliveredFrame | ReceivedFrame | MobileSentFrame


@dataclass(frozen=True, slots=True)
class PendingFrame:
    """A frame waiting for its ack; ``seq`` orders resends as the frames were first made;
    ``ref`` is the driver's handle of the event the frame reports (see ``Driver.acknowledged``).
    """

    seq: int
    frame: AckedFrame
    ref: str | None = None


class DriverDocument:
    """One driver's document in the state file (the ``DriverState`` a driver is given)."""

    def __init__(self, documents: dict[str, Json], name: str, changed: Callable[[], None]) -> None:
        self._documents, self._name, self._changed = documents, name, changed

    def load(self) -> Json:
        """What the driver saved last (None: nothing yet)."""
        return self._documents.get(self._name)

    def save(self, value: Json) -> None:
        """Keep ``value``; it is written with the outbox's next write."""
        self._documents[self._name] = value
        self._changed()


class Outbox:
    """Unacknowledged frames plus per-GUID records, persisted in ``<state_dir>/state.json``.

    With ``state_dir`` None the state lives in memory only, as for the simulated phones of a
    fleet (``simgate agent --tokens-file``): everything holds within one run, nothing across a
    restart (see docs/agent.md, "Many simulated phones in one process").

    Not thread-safe: it lives on the agent's event loop; only the file write runs in a thread.
    Records of acknowledged outcomes are kept for ``keep_done_ms`` (at most ``keep_done`` of
    them), long enough to recognise a late duplicate ``send``; unacknowledged ones are never
    dropped. ``on_acknowledged`` is called with each acknowledged frame that carries a ``ref``.
    """

    def __init__(
        self,
        state_dir: Path | None,
        *,
        keep_done: int = 5000,
        keep_done_ms: int = 24 * 3600 * 1000,
        on_acknowledged: Callable[[PendingFrame], None] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self._on_acknowledged = on_acknowledged
        self._drivers: dict[str, Json] = {}
        self._file = StateFile(state_dir) if state_dir is not None else None
        self.path = self._file.path if self._file is not None else None
        self._pending: dict[str, PendingFrame] = {}  # insertion order is seq order
        self._ledger = Ledger(keep_done=keep_done, keep_done_ms=keep_done_ms)
        self._next_seq = 1
        self._durable_seq = 0
        self._generation = 0
        self._flushed_generation = 0
        self._finished_since_prune = 0
        self._commit_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self.flushed = asyncio.Event()
        """Set after every completed write; the runner's writer waits on it for new frames."""
        self.emptied = asyncio.Event()
        """Set while no frame waits for an ack (a stopping agent waits on it briefly)."""
        self.emptied.set()

    # ------------------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Lock the state directory, load the state, settle sends a crash interrupted.

        A GUID still ``sending`` was being handed to the radio when the previous run stopped:
        nobody knows whether it left the phone, so it becomes a non-operator failure (which the
        server does not retry automatically) instead of a possible duplicate.
        """
        if self._file is None:
            return  # in memory: nothing to load, nothing a crash could have interrupted
        self._file.lock()
        try:
            self._file.remove_stale()
            self._load(self._file)
            for guid in self._ledger.unsettled():
                self.finish(guid, ok=False, error=UNKNOWN_OUTCOME_ERROR, operator=False)
            self._prune()
            self._write_now()
        except BaseException:
            self._file.unlock()
            raise

    def close(self) -> None:
        """Write what is not written yet and release the directory lock."""
        if self._file is None:
            return
        try:
            self._prune()
            self._write_now()
        finally:
            self._file.unlock()

    def _load(self, file: StateFile) -> None:
        try:
            data = file.read()
            if data is None:
                return
            pending: list[PendingFrame] = []
            for entry in data["pending"]:
                frame = parse_frame(entry["frame"])
                if not isinstance(
                    frame,
                    SentFrame | FailedFrame | DeliveredFrame | ReceivedFrame | MobileSentFrame,
                ):
                    raise ValueError(f"unexpected pending frame {entry['frame']!r}")
                seq, ref = entry["seq"], entry.get("ref")
                if not isinstance(seq, int) or not isinstance(ref, str | None):
                    raise ValueError("bad seq or ref")
                pending.append(PendingFrame(seq=seq, frame=frame, ref=ref))
            messages = Ledger.parse(data["messages"])
            next_seq = int(data["next_seq"])
            drivers = data.get("drivers", {})  # absent from files of earlier versions
            if not isinstance(drivers, dict):
                raise ValueError("bad drivers")
        except (ValueError, KeyError, TypeError, ProtocolError) as exc:
            raise AgentStateError(
                f"the agent state file {self.path} is unreadable ({exc}). Move it away to start "
                "afresh; messages that were in flight may then be sent twice."
            ) from exc
        pending.sort(key=lambda item: item.seq)
        self._pending = {item.frame.id: item for item in pending}
        if self._pending:
            self.emptied.clear()
        self._ledger.restore(messages)
        self._drivers.clear()
        self._drivers.update(drivers)
        self._next_seq = max([next_seq, *(item.seq + 1 for item in pending)])
        self._durable_seq = self._next_seq - 1

    # ------------------------------------------------------------------------ pending frames

    def append(self, frame: AckedFrame, *, ref: str | None = None) -> PendingFrame:
        """Queue a frame for the server; it is sent once durable and kept until acked. ``ref``
        goes back to the driver with the ack (``on_acknowledged``)."""
        item = PendingFrame(seq=self._next_seq, frame=frame, ref=ref)
        self._next_seq += 1
        self._pending[frame.id] = item
        self.emptied.clear()
        self._changed()
        return item

    def acknowledge(self, frame_id: str) -> PendingFrame | None:
        """Drop an acked frame; None if it was not pending (a duplicate ack, say)."""
        item = self._pending.pop(frame_id, None)
        if item is None:
            return None
        frame = item.frame
        if isinstance(frame, SentFrame | FailedFrame):
            self._ledger.acknowledged(frame.guid, frame_id)
        if not self._pending:
            self.emptied.set()
        self._changed()
        if item.ref is not None and self._on_acknowledged is not None:
            self._on_acknowledged(item)
        return item

    def pending(self, frame_id: str) -> PendingFrame | None:
        """The pending frame with this id, if it is still unacknowledged."""
        return self._pending.get(frame_id)

    def pending_after(self, seq: int) -> list[PendingFrame]:
        """Durable pending frames with a sequence number above ``seq``, oldest first.

        Only frames already on disk are offered: a frame the server acked but the agent then lost
        in a crash could otherwise be reported again with a different outcome.
        """
        return [item for item in self._pending.values() if seq < item.seq <= self._durable_seq]

    @property
    def pending_count(self) -> int:
        """How many frames wait for an ack."""
        return len(self._pending)

    # ---------------------------------------------------------------------- driver state

    def driver_state(self, name: str) -> DriverDocument:
        """The document of driver ``name`` in the state file (see ``Driver.use_state``)."""
        return DriverDocument(self._drivers, name, self._changed)

    # ---------------------------------------------------------------------- GUID records

    def record(self, guid: str) -> MessageRecord | None:
        """What this device did with ``guid``, if it remembers it."""
        return self._ledger.get(guid)

    def begin(self, guid: str) -> None:
        """Mark ``guid`` as being handed to the radio; commit before calling the driver."""
        self._ledger.begin(guid)
        self._changed()

    def forget(self, guid: str) -> None:
        """Undo :meth:`begin` for a GUID the radio never saw (the agent stopped first)."""
        if self._ledger.forget(guid):
            self._changed()

    def finish(
        self,
        guid: str,
        *,
        ok: bool,
        sim: int | None = None,
        at: int | None = None,
        error: str = "",
        operator: bool = False,
    ) -> PendingFrame:
        """Record the outcome of ``guid`` and queue its ``sent``/``failed`` frame."""
        record = self._ledger.settle(guid, ok=ok, sim=sim, at=at, error=error, operator=operator)
        item = self._report(record)
        self._finished_since_prune += 1
        if self._finished_since_prune >= 100:  # noqa: PLR2004 - amortise the sort in _prune
            self._prune()
        return item

    def report_again(self, guid: str) -> PendingFrame:
        """Queue the recorded outcome of ``guid`` once more, under a fresh frame id."""
        record = self._ledger[guid]
        if record.state == "sending":
            raise ValueError(f"{guid} has no outcome yet")
        record.updated = now_ms()
        return self._report(record)

    def _report(self, record: MessageRecord) -> PendingFrame:
        frame = record.outcome_frame(new_frame_id())
        record.frame_id = frame.id
        return self.append(frame)

    def _prune(self) -> None:
        self._finished_since_prune = 0
        if self._ledger.prune():
            self._changed()

    # ------------------------------------------------------------------------- persistence

    def _changed(self) -> None:
        self._generation += 1
        self._dirty.set()

    def _snapshot(self, file: StateFile) -> tuple[int, int, bytes]:
        document: dict[str, Any] = {
            "next_seq": self._next_seq,
            "pending": [
                {"seq": item.seq, "frame": item.frame.to_dict()}
                | ({"ref": item.ref} if item.ref is not None else {})
                for item in self._pending.values()
            ],
            "messages": self._ledger.to_json(),
            "drivers": self._drivers,
        }
        return self._generation, self._next_seq - 1, file.encode(document)

    def _mark_flushed(self, generation: int, seq: int) -> None:
        self._flushed_generation = max(self._flushed_generation, generation)
        self._durable_seq = max(self._durable_seq, seq)
        if self._flushed_generation >= self._generation:
            self._dirty.clear()
        self.flushed.set()

    def _write_now(self) -> None:
        if self._file is None:
            self._mark_flushed(self._generation, self._next_seq - 1)
            return
        generation, seq, data = self._snapshot(self._file)
        self._file.write(generation, data)
        self._mark_flushed(generation, seq)

    async def commit(self) -> None:
        """Return once every change made before this call is on disk.

        Concurrent callers share writes: whoever gets the lock writes a snapshot that includes
        every change so far, and the callers whose changes it covered return without writing.
        """
        target = self._generation
        if self._flushed_generation >= target:
            return
        file = self._file
        if file is None:
            self._write_now()  # in memory: "durable" at once, no thread, no lock
            return
        async with self._commit_lock:
            if self._flushed_generation >= target:
                return
            generation, seq, data = self._snapshot(file)
            await asyncio.to_thread(file.write, generation, data)
            self._mark_flushed(generation, seq)

    async def run_flusher(self, interval: float = 0.2) -> None:
        """Write lazily what nobody committed (acks): a lost ack only means one resend."""
        while True:
            await self._dirty.wait()
            await asyncio.sleep(interval)
            try:
                await self.commit()
            except OSError:
                # A full or read-only disk: keep the agent running (it still works from memory)
                # and try again; the operator sees the error in the log.
                log.exception("could not write the agent state to %s; retrying", self.path)
                await asyncio.sleep(5 * interval)
