"""``simgate serve --workers N``: N server processes on one host, one port, one PostgreSQL.

The parent binds the listening socket once and starts N worker processes (``spawn``: each a
fresh interpreter with its own event loop, engine and bus connection) that all accept from that
one socket. Why one shared socket rather than ``SO_REUSEPORT`` sockets, one per worker:

- connections waiting to be accepted sit in one queue, so a worker that dies (``kill -9``, an
  out-of-memory kill) takes only its own connections with it; with ``SO_REUSEPORT`` each
  worker has its own queue, and the connections the kernel had already put in the dead
  worker's queue are reset;
- the port is bound once, by simgate: no other program can join the group, and "port in use"
  is reported as for one process;
- an idle worker takes the next connection, instead of a hash of the client's address choosing
  a worker whatever its load (WebSocket phones stay connected for days, so an even spread of
  *new* connections is what matters, and any worker may serve any phone: the bus and the
  database make them one gateway).

The parent is a small supervisor: it restarts a worker that dies (after a short pause, so a
worker that cannot start does not spin), forwards SIGTERM/SIGINT to all of them, waits for
their graceful shutdown and exits 0. A worker that fails during start-up (the database went
away after the migration, say) stops everything with status 1: restarting it would fail alike.
Workers whose supervisor is killed stop by themselves.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any, Final

import structlog

from simgate.app import create_app
from simgate.config import Settings
from simgate.logs import configure_logging
from simgate.serving import Server, server_config

log = structlog.get_logger("simgate.workers")

#: How a worker whose application failed to start exits (uvicorn's status for that).
STARTUP_FAILURE: Final = 3
#: Pause before a dead worker is replaced (seconds).
RESTART_PAUSE: Final = 0.5
#: Seconds a stopping worker gets for its graceful shutdown before it is killed.
STOP_GRACE: Final = 30.0
#: How often a worker checks that its supervisor is still there (seconds).
ORPHAN_CHECK_SECONDS: Final = 1.0

_spawn = multiprocessing.get_context("spawn")
# Sockets travel to spawned children as duplicated descriptors.
multiprocessing.allow_connection_pickling()


def _worker_main(settings: Settings, sock: socket.socket, workers: int) -> None:
    """A worker process: the ordinary server on the inherited socket."""
    # Out of the terminal's process group: a Ctrl-C reaches the supervisor only, which stops
    # each worker once (a second signal would make a worker skip its graceful shutdown).
    os.setpgrp()
    _stop_when_orphaned(os.getppid())
    configure_logging(settings.log_level, settings.log_format)
    server = Server(server_config(create_app(settings), settings, workers=workers))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def _stop_when_orphaned(parent: int) -> None:
    """Stop this worker gracefully if the supervisor dies (``kill -9``): a worker nobody
    supervises would keep serving the port, unseen, after the supervisor is restarted."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        log.warning("supervisor_gone", supervisor_pid=parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


@dataclass
class _Worker:
    process: SpawnProcess
    started: float


class Supervisor:
    """Starts, watches and stops the worker processes of one ``simgate serve``."""

    def __init__(self, settings: Settings, sock: socket.socket, workers: int) -> None:
        self._settings = settings
        self._sock = sock
        self._count = workers
        self._workers: list[_Worker] = []
        self._stop = threading.Event()

    def _start_one(self) -> _Worker:
        process = _spawn.Process(
            target=_worker_main,
            args=(self._settings, self._sock, self._count),
            name="simgate-worker",
        )
        process.start()
        return _Worker(process, time.monotonic())

    def _on_signal(self, _signum: int, _frame: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (0) or a worker that cannot start (1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            self._workers = [self._start_one() for _ in range(self._count)]
            host, port = self._sock.getsockname()[:2]
            log.info(
                "workers_started",
                workers=self._count,
                address=f"http://{host}:{port}",
                pids=[worker.process.pid for worker in self._workers],
            )
            status = self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("workers_stopped", workers=self._count)
        return status

    def _watch(self) -> int:
        while not self._stop.wait(0.2):
            for index, worker in enumerate(self._workers):
                if worker.process.is_alive():
                    continue
                code = worker.process.exitcode
                if code == STARTUP_FAILURE:
                    log.error("worker_failed_to_start", pid=worker.process.pid)
                    return 1
                log.warning("worker_died", pid=worker.process.pid, exit_status=code)
                if self._stop.wait(RESTART_PAUSE):
                    return 0
                self._workers[index] = self._start_one()
                log.info("worker_restarted", pid=self._workers[index].process.pid)
        return 0

    def _stop_all(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                worker.process.terminate()  # SIGTERM: the worker's graceful shutdown
        deadline = time.monotonic() + STOP_GRACE
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


#: The signals that stop the supervisor and, through it, every worker.
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def serve_workers(settings: Settings, workers: int) -> int:
    """Bind the port, run ``workers`` server processes on it until stopped; the exit status."""
    # The same options a single server would bind with (address, backlog), bound once here.
    sock = server_config(None, settings).bind_socket()
    try:
        return Supervisor(settings, sock, workers).run()
    finally:
        sock.close()
