"""The agent's durable local state: frames the server has not acknowledged, and GUID outcomes.

Two promises of the device protocol rest on this file surviving a crash or a reboot:

* every state-changing frame (``sent``, ``failed``, ``received``, ``mobile_sent``) reaches the
  server at least once: it stays here, in its original order, until the server acks its id;
* a message GUID is handed to the radio at most once: a GUID is recorded as ``sending`` *before*
  the driver gets it, so a server resend after a reconnect, or after a crash in the middle of a
  send, never makes the recipient's phone buzz twice.

The state is one JSON file, rewritten whole through a temporary file and ``os.replace`` so that a
power cut leaves either the old or the new version, never half of one. Writes are grouped: every
caller that needs durability awaits :meth:`Outbox.commit`, and all changes made before a write
starts share it, so a burst of messages costs a few writes rather than one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast

from simgate.protocol import (
    FailedFrame,
    MobileSentFrame,
    ProtocolError,
    ReceivedFrame,
    SentFrame,
    new_frame_id,
    now_ms,
    parse_frame,
)

if sys.platform != "win32":
    import fcntl

__all__ = [
    "STATE_FILE_NAME",
    "UNKNOWN_OUTCOME_ERROR",
    "AckedFrame",
    "AgentStateError",
    "MessageRecord",
    "Outbox",
    "PendingFrame",
]

log = logging.getLogger(__name__)

STATE_FILE_NAME = "state.json"
_LOCK_FILE_NAME = "state.lock"
_TEMP_PREFIX = ".state-"
_FORMAT = "simgate-agent-state"
_VERSION = 1

UNKNOWN_OUTCOME_ERROR = (
    "outcome unknown: the agent stopped while handing this message to the radio, "
    "so it may or may not have been sent"
)

AckedFrame: TypeAlias = SentFrame | FailedFrame | ReceivedFrame | MobileSentFrame
MessageState: TypeAlias = Literal["sending", "sent", "failed"]


class AgentStateError(RuntimeError):
    """The state directory cannot be used: locked by another agent, or unreadable.

    The agent refuses to start rather than starting afresh, because forgetting which GUIDs were
    already transmitted could send messages twice; the message says what to do.
    """


@dataclass(frozen=True, slots=True)
class PendingFrame:
    """A frame waiting for its ack; ``seq`` orders resends as the frames were first made."""

    seq: int
    frame: AckedFrame


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


def _fsync_dir(folder: Path) -> None:
    # The rename itself must reach the disk too; not every platform lets a folder be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


class Outbox:
    """Unacknowledged frames plus per-GUID records, persisted in ``<state_dir>/state.json``.

    Not thread-safe: it lives on the agent's event loop; only the file write runs in a thread.
    Records of acknowledged outcomes are kept for ``keep_done_ms`` (at most ``keep_done`` of
    them), long enough to recognise a late duplicate ``send``; unacknowledged ones are never
    dropped.
    """

    def __init__(
        self, state_dir: Path, *, keep_done: int = 5000, keep_done_ms: int = 24 * 3600 * 1000
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE_NAME
        self._keep_done = keep_done
        self._keep_done_ms = keep_done_ms
        self._pending: dict[str, PendingFrame] = {}  # insertion order is seq order
        self._messages: dict[str, MessageRecord] = {}
        self._next_seq = 1
        self._durable_seq = 0
        self._generation = 0
        self._flushed_generation = 0
        self._finished_since_prune = 0
        self._write_lock = threading.Lock()
        self._written_generation = 0
        self._commit_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self.flushed = asyncio.Event()
        """Set after every completed write; the runner's writer waits on it for new frames."""
        self.emptied = asyncio.Event()
        """Set while no frame waits for an ack (a stopping agent waits on it briefly)."""
        self.emptied.set()
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Lock the state directory, load the state, settle sends a crash interrupted.

        A GUID still ``sending`` was being handed to the radio when the previous run stopped:
        nobody knows whether it left the phone, so it becomes a non-operator failure (which the
        server does not retry automatically) instead of a possible duplicate.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock()
        try:
            for stale in self.state_dir.glob(f"{_TEMP_PREFIX}*.tmp"):
                stale.unlink(missing_ok=True)
            if self.path.exists():
                self._load(self.path.read_bytes())
            for record in list(self._messages.values()):
                if record.state == "sending":
                    self.finish(record.guid, ok=False, error=UNKNOWN_OUTCOME_ERROR, operator=False)
            self._prune()
            self._write_now()
        except BaseException:
            self._unlock()
            raise

    def close(self) -> None:
        """Write what is not written yet and release the directory lock."""
        try:
            self._prune()
            self._write_now()
        finally:
            self._unlock()

    def _lock(self) -> None:
        if sys.platform == "win32":
            return
        fd = os.open(self.state_dir / _LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AgentStateError(
                f"another agent is already using the state directory {self.state_dir}"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _load(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError("not a simgate agent state file")
            if data.get("version") != _VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            pending: list[PendingFrame] = []
            for entry in data["pending"]:
                frame = parse_frame(entry["frame"])
                if not isinstance(frame, SentFrame | FailedFrame | ReceivedFrame | MobileSentFrame):
                    raise ValueError(f"unexpected pending frame {entry['frame']!r}")
                seq = entry["seq"]
                if not isinstance(seq, int):
                    raise ValueError("bad seq")
                pending.append(PendingFrame(seq=seq, frame=frame))
            messages = {
                guid: MessageRecord.from_json(guid, record)
                for guid, record in dict(data["messages"]).items()
            }
            next_seq = int(data["next_seq"])
        except (ValueError, KeyError, TypeError, ProtocolError) as exc:
            raise AgentStateError(
                f"the agent state file {self.path} is unreadable ({exc}). Move it away to start "
                "afresh; messages that were in flight may then be sent twice."
            ) from exc
        pending.sort(key=lambda item: item.seq)
        self._pending = {item.frame.id: item for item in pending}
        if self._pending:
            self.emptied.clear()
        self._messages = messages
        self._next_seq = max([next_seq, *(item.seq + 1 for item in pending)])
        self._durable_seq = self._next_seq - 1

    # ------------------------------------------------------------------------ pending frames

    def append(self, frame: AckedFrame) -> PendingFrame:
        """Queue a frame for the server; it is sent once durable and kept until acked."""
        item = PendingFrame(seq=self._next_seq, frame=frame)
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
            record = self._messages.get(frame.guid)
            if record is not None and record.frame_id == frame_id:
                record.frame_id = None
                record.updated = now_ms()
        if not self._pending:
            self.emptied.set()
        self._changed()
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

    # ---------------------------------------------------------------------- GUID records

    def record(self, guid: str) -> MessageRecord | None:
        """What this device did with ``guid``, if it remembers it."""
        return self._messages.get(guid)

    def begin(self, guid: str) -> None:
        """Mark ``guid`` as being handed to the radio; commit before calling the driver."""
        self._messages[guid] = MessageRecord(guid=guid, state="sending", updated=now_ms())
        self._changed()

    def forget(self, guid: str) -> None:
        """Undo :meth:`begin` for a GUID the radio never saw (the agent stopped first)."""
        record = self._messages.get(guid)
        if record is not None and record.state == "sending":
            del self._messages[guid]
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
        self._messages[guid] = record
        item = self._report(record)
        self._finished_since_prune += 1
        if self._finished_since_prune >= 100:  # noqa: PLR2004 - amortise the sort in _prune
            self._prune()
        return item

    def report_again(self, guid: str) -> PendingFrame:
        """Queue the recorded outcome of ``guid`` once more, under a fresh frame id."""
        record = self._messages[guid]
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
        done = sorted(
            (r for r in self._messages.values() if r.state != "sending" and r.frame_id is None),
            key=lambda r: r.updated,
        )
        cutoff = now_ms() - self._keep_done_ms
        excess = len(done) - self._keep_done
        removed = False
        for index, record in enumerate(done):
            if index < excess or record.updated < cutoff:
                del self._messages[record.guid]
                removed = True
        if removed:
            self._changed()

    # ------------------------------------------------------------------------- persistence

    def _changed(self) -> None:
        self._generation += 1
        self._dirty.set()

    def _snapshot(self) -> tuple[int, int, bytes]:
        data = {
            "format": _FORMAT,
            "version": _VERSION,
            "next_seq": self._next_seq,
            "pending": [
                {"seq": item.seq, "frame": item.frame.to_dict()} for item in self._pending.values()
            ],
            "messages": {guid: record.to_json() for guid, record in self._messages.items()},
        }
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return self._generation, self._next_seq - 1, encoded

    def _write(self, generation: int, data: bytes) -> None:
        # Runs in a worker thread. A commit cancelled mid-write leaves its thread running, so a
        # later write may overlap it: the generation check keeps an older snapshot from
        # replacing a newer one.
        with self._write_lock:
            if generation <= self._written_generation:
                return
            _atomic_write(self.path, data)
            self._written_generation = generation

    def _mark_flushed(self, generation: int, seq: int) -> None:
        self._flushed_generation = max(self._flushed_generation, generation)
        self._durable_seq = max(self._durable_seq, seq)
        if self._flushed_generation >= self._generation:
            self._dirty.clear()
        self.flushed.set()

    def _write_now(self) -> None:
        generation, seq, data = self._snapshot()
        self._write(generation, data)
        self._mark_flushed(generation, seq)

    async def commit(self) -> None:
        """Return once every change made before this call is on disk.

        Concurrent callers share writes: whoever gets the lock writes a snapshot that includes
        every change so far, and the callers whose changes it covered return without writing.
        """
        target = self._generation
        if self._flushed_generation >= target:
            return
        async with self._commit_lock:
            if self._flushed_generation >= target:
                return
            generation, seq, data = self._snapshot()
            await asyncio.to_thread(self._write, generation, data)
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
