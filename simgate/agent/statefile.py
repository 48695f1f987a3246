"""The agent's state file: ``<state_dir>/state.json``, locked and replaced whole on every write.

The state is one JSON document, rewritten through a temporary file and ``os.replace`` so that a
power cut leaves either the old or the new version, never half of one; the folder is fsynced so
that the rename itself survives too. A lock file keeps a second agent out of the directory: two
agents sharing GUID records could each send the same message. This module knows the file and its
envelope (``format``, ``version``); what the document holds is :mod:`simgate.agent.outbox`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

if sys.platform != "win32":
    import fcntl

__all__ = ["STATE_FILE_NAME", "AgentStateError", "StateFile"]

STATE_FILE_NAME = "state.json"
_LOCK_FILE_NAME = "state.lock"
_TEMP_PREFIX = ".state-"
_FORMAT = "simgate-agent-state"
_VERSION = 1


class AgentStateError(RuntimeError):
    """The state directory cannot be used: locked by another agent, or unreadable.

    The agent refuses to start rather than starting afresh, because forgetting which GUIDs were
    already transmitted could send messages twice; the message says what to do.
    """


def _fsync_dir(folder: Path) -> None:
    # The rename itself must reach the disk too; not every platform lets a folder be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes, *, prefix: str = _TEMP_PREFIX) -> None:
    """Replace ``path`` with ``data`` through a temporary file (``prefix``…``.tmp`` beside it),
    so that a crash or a power cut leaves the old version or the new one, never half of one."""
    fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
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


class StateFile:
    """The state file of one state directory, with the directory lock that guards it.

    :meth:`write` may run in a worker thread; everything else belongs to the event loop's thread.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE_NAME
        self._write_lock = threading.Lock()
        self._written_generation = 0
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Create the directory if needed and take its lock, or raise :class:`AgentStateError`."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
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

    def unlock(self) -> None:
        """Release the directory lock (a no-op when it is not held)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def remove_stale(self) -> None:
        """Delete temporary files that a write interrupted by a crash left behind."""
        for stale in self.state_dir.glob(f"{_TEMP_PREFIX}*.tmp"):
            stale.unlink(missing_ok=True)

    def read(self) -> dict[str, Any] | None:
        """The stored document (None when there is no state file yet).

        Raises ``ValueError`` for a file that is not JSON, not an agent state file, or of
        another version; the caller words the error for the operator.
        """
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_bytes())
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError("not a simgate agent state file")
        if data.get("version") != _VERSION:
            raise ValueError(f"unsupported state version {data.get('version')!r}")
        return data

    @staticmethod
    def encode(document: dict[str, Any]) -> bytes:
        """The file's bytes for ``document``, inside the ``format``/``version`` envelope."""
        data = {"format": _FORMAT, "version": _VERSION, **document}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def write(self, generation: int, data: bytes) -> None:
        """Replace the file with ``data`` unless a newer ``generation`` is already written."""
        # Runs in a worker thread. A commit cancelled mid-write leaves its thread running, so a
        # later write may overlap it: the generation check keeps an older snapshot from
        # replacing a newer one.
        with self._write_lock:
            if generation <= self._written_generation:
                return
            atomic_write(self.path, data)
            self._written_generation = generation
