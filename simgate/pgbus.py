"""The bus across processes: PostgreSQL LISTEN/NOTIFY on one dedicated connection per process.

Several ``simgate serve`` processes sharing one database must wake each other: a message
accepted by one process may be for a phone connected to another. Each process keeps one asyncpg
connection of its own (not from the SQLAlchemy pool, whose connections come and go and may sit
behind a transaction-pooling PgBouncer) that LISTENs on one channel and sends this process's
NOTIFYs.

- **Publishing never waits.** Local subscribers are called at once, exactly as on the
  in-process bus; the notification for the other processes is queued and sent, in order, by
  this bus's task. Notifications only say *that* something happened, so the queue keeps each
  distinct ``(topic, payload)`` once: a thousand "account 7 has work" waiting to be sent are
  one notification. A batch travels as one NOTIFY of newline-separated ``topic:payload`` lines,
  well under PostgreSQL's 8000-byte payload limit.
- **Exactly once locally.** PostgreSQL delivers a NOTIFY to every listener, the sender
  included; this process's own notifications come back from its own backend and are ignored.
- **Losing the connection loses notifications**, so the database stays the truth: the bus
  reconnects with backoff (logging once per outage, not once per attempt), and each time it
  listens again it publishes :data:`simgate.bus.RESYNC` locally so the dispatcher, the
  scheduler and the webhook worker look at the store at once. What it could not send while
  disconnected stays queued and goes out after the reconnection; if the queue overflowed, one
  RESYNC goes to every other process instead. The periodic sweeps stay as the last safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import random
import time
from typing import Any, Final

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from simgate import bus
from simgate.bus import Bus, Handler, InProcessBus, Unsubscribe

log = structlog.get_logger(__name__)

#: The one channel every process of a database listens on (channels are per database).
CHANNEL: Final = "simgate_bus"
#: Longest payload of one NOTIFY we send (PostgreSQL refuses 8000 bytes and more).
MAX_PAYLOAD: Final = 7000
#: Distinct notifications queued while the connection is down before the queue is replaced by
#: one RESYNC for every other process (memory stays bounded through a long outage).
MAX_PENDING: Final = 10_000
#: Topics never sent to other processes. RESYNC is about this process's own connection.
#: DEADLINE (one per claim round, the busiest topic) wakes the scheduler of the process whose
#: dispatcher took the lease, which is the one that must look when it ends; the leases of a
#: process that died are found by the others' schedulers, which read the earliest lease from
#: the store at each look.
LOCAL_TOPICS: Final = frozenset({bus.RESYNC, bus.DEADLINE})


class LinkState(enum.Enum):
    """The lifecycle of the listening connection."""

    NEW = "new"
    CONNECTING = "connecting"
    LISTENING = "listening"
    #: Disconnected, waiting out the backoff before the next attempt.
    WAITING = "waiting"
    CLOSED = "closed"


#: Every legal move of :class:`LinkState`; anything else is a bug.
TRANSITIONS: Final[dict[LinkState, frozenset[LinkState]]] = {
    LinkState.NEW: frozenset({LinkState.CONNECTING, LinkState.CLOSED}),
    LinkState.CONNECTING: frozenset({LinkState.LISTENING, LinkState.WAITING, LinkState.CLOSED}),
    LinkState.LISTENING: frozenset({LinkState.WAITING, LinkState.CLOSED}),
    LinkState.WAITING: frozenset({LinkState.CONNECTING, LinkState.CLOSED}),
    LinkState.CLOSED: frozenset(),
}


def asyncpg_dsn(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def new_bus(database_url: str, bus_url: str | None = None) -> Bus:
    """The bus a server process needs: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite.

    ``bus_url`` is where the listening connection goes when it must not take the route of the
    pool (a transaction-pooling PgBouncer breaks LISTEN); by default the database itself.
    """
    if not database_url.startswith("postgresql"):
        return InProcessBus()
    return PgBus(asyncpg_dsn(bus_url or database_url))


class PgBus:
    """:class:`~simgate.bus.Bus` over PostgreSQL LISTEN/NOTIFY; ``start`` on the server's loop."""

    def __init__(
        self,
        dsn: str,
        *,
        application_name: str | None = None,
        backoff_first: float = 0.1,
        backoff_longest: float = 5.0,
        ping_seconds: float = 10.0,
    ) -> None:
        self._dsn = dsn
        #: Shown in ``pg_stat_activity``: which process a listening connection belongs to.
        self.application_name = application_name or f"simgate-bus:{os.getpid()}"
        self._local = InProcessBus()
        self._pending: dict[tuple[str, str], None] = {}
        self._overflowed = False
        #: Set while the task has nothing left to send.
        self._idle = asyncio.Event()
        self._wake = asyncio.Event()
        # Clear while a connection attempt is under way: asyncpg cannot be cancelled in the
        # middle of its handshake without raising from a transport callback, so ``close``
        # lets a started attempt end (it ends fast when the server refuses) before cancelling.
        self._between_attempts = asyncio.Event()
        self._between_attempts.set()
        self._backoff_first = backoff_first
        self._backoff_longest = backoff_longest
        self._ping_seconds = ping_seconds
        self._state = LinkState.NEW
        self._conn: asyncpg.Connection | None = None
        self._own_pid: int | None = None
        self._task: asyncio.Task[None] | None = None
        #: Set each time the bus listens (again): for tests and start-up, "notifications flow".
        self.listening = asyncio.Event()

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL process of the listening connection, while there is one."""
        return self._own_pid if self._state is LinkState.LISTENING else None

    def _move(self, to: LinkState) -> None:
        if to not in TRANSITIONS[self._state]:
            raise RuntimeError(f"bus link cannot go from {self._state.value} to {to.value}")
        self._state = to
        if to is not LinkState.LISTENING:
            self.listening.clear()

    # ------------------------------------------------------------------------------ the Bus

    def subscribe(self, topic: str, handler: Handler) -> Unsubscribe:
        return self._local.subscribe(topic, handler)

    def publish(self, topic: str, payload: str) -> None:
        self._local.publish(topic, payload)
        if topic in LOCAL_TOPICS or self._state is LinkState.CLOSED:
            return
        if (topic, payload) not in self._pending and len(self._pending) >= MAX_PENDING:
            # Every other process will have to look at the store anyway: tell them that once.
            self._pending.clear()
            self._overflowed = True
        if not self._overflowed:
            self._pending[(topic, payload)] = None
        self._idle.clear()
        self._wake.set()

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Connect and listen in the background (publishing works before and meanwhile)."""
        if self._task is None and self._state is LinkState.NEW:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pg-bus")

    async def close(self, flush_seconds: float = 2.0) -> None:
        """Let the task send what is still queued (for at most ``flush_seconds``), then
        disconnect: a notification published just before a graceful stop still goes out."""
        if self._state is LinkState.CLOSED:
            return
        if self._task is not None and not self._drained():
            # Still connecting (a short CLI job) or sending: give it a moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_seconds):
                    await self.listening.wait()
                    await self._idle.wait()
        if not self._between_attempts.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_seconds):
                    await self._between_attempts.wait()
        self._move(LinkState.CLOSED)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()

    def _drained(self) -> bool:
        """Nothing queued and nothing being sent (a batch is only in flight while listening:
        one that fails goes back to the queue)."""
        if self._pending or self._overflowed:
            return False
        return self._state is not LinkState.LISTENING or self._idle.is_set()

    async def _run(self) -> None:
        delay = self._backoff_first
        down_since: float | None = None  # start of the current outage, if any
        while True:
            self._move(LinkState.CONNECTING)
            try:
                conn = await self._attempt()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("bus_unavailable", error=_reason(exc), retry_in=round(delay, 2))
                self._move(LinkState.WAITING)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                delay = min(delay * 2, self._backoff_longest)
                continue
            delay = self._backoff_first
            self._move(LinkState.LISTENING)
            if down_since is not None:
                # At the level of the outage's warning: whoever saw it began sees it end.
                log.warning("bus_reconnected", down_seconds=round(time.monotonic() - down_since, 3))
                down_since = None
            self.listening.set()
            # Listening again: what was published meanwhile (or before the first LISTEN) was
            # not heard here. Local only, after LISTEN, so the look sees all that was missed.
            self._local.publish(bus.RESYNC, "")
            try:
                await self._pump(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("bus_connection_lost", error=_reason(exc))
            else:
                log.warning("bus_connection_lost", error="closed by the server")
            down_since = time.monotonic()
            await self._disconnect()
            self._move(LinkState.WAITING)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter

    async def _attempt(self) -> asyncpg.Connection:
        """One connection attempt, marked as under way for ``close`` while it runs."""
        self._between_attempts.clear()
        try:
            return await self._connect()
        finally:
            self._between_attempts.set()

    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn,
            timeout=10,
            # A bus connection never runs the same statement often enough to be worth preparing,
            # and a session-pooled PgBouncer may not keep prepared statements.
            statement_cache_size=0,
            server_settings={
                "application_name": self.application_name,
                # A NOTIFY is delivered when its transaction commits, and that commit needs no
                # flush to disk: a notification lost in a crash of PostgreSQL is one that the
                # listeners, disconnected by that crash, make up for with a RESYNC anyway.
                "synchronous_commit": "off",
            },
        )
        try:
            await conn.add_listener(CHANNEL, self._on_notification)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(lambda _conn: self._wake.set())
        self._conn = conn
        self._own_pid = conn.get_server_pid()
        return conn

    async def _disconnect(self) -> None:
        conn, self._conn, self._own_pid = self._conn, None, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:  # going away whatever happens
                conn.terminate()

    async def _pump(self, conn: asyncpg.Connection) -> None:
        """Send queued notifications as they come; ping when idle. Returns when the connection
        is gone, raises when it fails."""
        while not conn.is_closed():
            if self._pending or self._overflowed:
                await self._send(conn)
                continue
            self._wake.clear()
            self._idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), self._ping_seconds)
            except TimeoutError:
                # A silent network partition is only noticed by talking.
                await conn.fetchval("SELECT 1", timeout=self._ping_seconds)

    async def _send(self, conn: asyncpg.Connection) -> None:
        batch, self._pending = self._pending, {}
        overflowed, self._overflowed = self._overflowed, False
        lines = [f"{bus.RESYNC}:"] if overflowed else []
        lines += [f"{topic}:{payload}" for topic, payload in batch]
        try:
            await conn.execute(
                "SELECT pg_notify($1, chunk) FROM unnest($2::text[]) AS chunk",
                CHANNEL,
                _chunks(lines),
                timeout=self._ping_seconds,
            )
        except BaseException:
            # Not sent, or not known to be: send again later (a repeat is harmless).
            self._pending = {**batch, **self._pending}
            self._overflowed = self._overflowed or overflowed
            raise

    def _on_notification(self, _conn: Any, pid: int, _channel: str, payload: str) -> None:
        if pid == self._own_pid:
            return  # our own NOTIFY: local subscribers heard it when it was published
        for line in payload.split("\n"):
            topic, _, value = line.partition(":")
            self._local.publish(topic, value)


def _chunks(lines: list[str]) -> list[str]:
    """Join ``lines`` with newlines into as few payloads under :data:`MAX_PAYLOAD` as fit."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > MAX_PAYLOAD:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line.encode()) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
