"""The delivery worker: POSTs due deliveries, records each attempt, retries, dead-letters.

The outbox rows are the truth. The worker claims due deliveries under a lease (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so several servers share the work), POSTs each with the one
injected :class:`~simgate.webhooks.poster.Poster` (redirects not followed,
``webhook_timeout_seconds``), and
settles it: delivered on a 2xx; otherwise pending again after an exponential, jittered wait,
or dead once the next retry would fall past the delivery's deadline (about a day).
A process that dies mid-attempt loses nothing: its leases run out and the deliveries are
claimed again, with the same event id.

No polling for fresh work: the bus's ``WEBHOOK_WORK`` (published after each commit that
enqueued deliveries) wakes it; otherwise it sleeps until the next retry or lease end the store
knows of, at most ``MAX_SLEEP`` (a safety net for work enqueued by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson
import structlog
from sqlalchemy.engine import RowMapping

from simgate import bus, metrics
from simgate.context import Context
from simgate.domain.errors import SimgateError
from simgate.domain.webhooks import (
    DeliveryState,
    Format,
    after_failure,
    retry_delay_ms,
    success,
)
from simgate.store import webhooks as webhook_store
from simgate.webhooks import guard, payloads
from simgate.webhooks.poster import Poster, PostError

log = structlog.get_logger(__name__)

MAX_SLEEP: Final = 60.0
#: Bytes of a receiver's answer kept in the delivery log.
MAX_RESPONSE_BYTES: Final = 1024
MAX_ERROR_CHARS: Final = 300


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code, or an error when there was no answer."""

    status: int | None
    response: str | None
    error: str | None
    latency_ms: int


def new_client(timeout_seconds: float) -> Poster:
    """The client every attempt uses: explicit timeout, no redirects, pooled connections."""
    return Poster(timeout_seconds)


class DeliveryWorker:
    def __init__(self, ctx: Context, client: Poster) -> None:
        self._ctx = ctx
        self._client = client
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribers = [
            ctx.bus.subscribe(bus.WEBHOOK_WORK, lambda _: self._wake.set()),
            # Deliveries enqueued by another process may have been announced while this one
            # was not listening: claim now rather than at the next safety wake-up.
            ctx.bus.subscribe(bus.RESYNC, lambda _: self._wake.set()),
        ]
        Step = tuple[int, int, DeliveryState, dict[str, Any]]
        self._outcomes: list[tuple[Step, asyncio.Future[None]]] = []
        self._settling = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Stop claiming and cancel attempts in flight: their leases make them due again."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        tasks = [task for task in (self._task, *self._tasks) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        capacity = self._ctx.settings.webhook_concurrency
        while True:
            self._wake.clear()
            delay = MAX_SLEEP
            free = capacity - len(self._tasks)
            # Claim for a handful of free slots at once, not one claim transaction per finished
            # POST: on SQLite those small writes would queue with the inbound SMS producing the
            # events. Waiting for a quarter of the slots costs nothing when idle (none in flight).
            if free > 0 and (not self._tasks or free >= max(1, capacity // 4)):
                try:
                    claimed, upcoming = await self._claim(free)
                except Exception:
                    log.exception("webhook_claim_failed")
                    claimed, upcoming = [], self._ctx.clock() + 1000
                for row in claimed:
                    self._spawn(row)
                if upcoming is not None:
                    delay = min(delay, max(0.0, (upcoming - self._ctx.clock()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _claim(self, limit: int) -> tuple[list[RowMapping], int | None]:
        now = self._ctx.clock()
        async with self._ctx.db.begin() as conn:
            claimed = await webhook_store.claim(
                conn, now_ms=now, lease_until_ms=now + self._lease_ms(), limit=limit
            )
            upcoming = await webhook_store.next_due(conn, now)
        return claimed, upcoming

    def _lease_ms(self) -> int:
        # Long enough for the POST and the bookkeeping around it, whatever the timeout.
        return int((self._ctx.settings.webhook_timeout_seconds + 30) * 1000)

    def _spawn(self, row: RowMapping) -> None:
        task = asyncio.get_running_loop().create_task(self.attempt(row))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._wake.set()  # a slot is free, and the next event of its subject may go

        task.add_done_callback(done)

    async def deliver_now(self, ids: list[int]) -> None:
        """Attempt these deliveries once, here and now (the CLI's test and redeliver)."""
        now = self._ctx.clock()
        async with self._ctx.db.begin() as conn:
            claimed = await webhook_store.claim(
                conn,
                now_ms=now,
                lease_until_ms=now + self._lease_ms(),
                limit=len(ids),
                ids=ids,
            )
        await asyncio.gather(*(self.attempt(row) for row in claimed))

    async def attempt(self, row: RowMapping) -> None:
        """One POST of a claimed delivery and its outcome, recorded."""
        try:
            outcome = await self._post(row)
        except Exception as exc:  # a bug must not leave the delivery claimed until its lease
            log.exception("webhook_attempt_failed", delivery_id=row["id"])
            outcome = Outcome(None, None, f"internal error: {type(exc).__name__}", 0)
        try:
            await self._settle(row, outcome)
        except Exception:  # the store is away: the lease runs out and the attempt is made again
            log.exception("webhook_settle_failed", delivery_id=row["id"])

    async def _post(self, row: RowMapping) -> Outcome:
        settings = self._ctx.settings
        started = time.perf_counter()
        try:
            await guard.check_url(row["url"], allow_private=settings.webhook_allow_private)
            secret = self._ctx.secrets.open(row["secret_sealed"])
        except SimgateError as exc:
            return Outcome(None, None, exc.message[:MAX_ERROR_CHARS], 0)
        event = payloads.Event(
            id=row["event_id"],
            type=row["type"],
            created_ms=int(row["created_ms"]),
            occurred_ms=int(row["occurred_ms"]),
            data=_data(row["data"]),
        )
        request = payloads.build(
            event, Format(row["format"]), secret, now_ms=self._ctx.clock(), zone=settings.zone
        )
        try:
            answer = await self._client.post(
                row["url"], request.body, request.headers, keep=MAX_RESPONSE_BYTES
            )
        except PostError as exc:
            latency = int((time.perf_counter() - started) * 1000)
            return Outcome(None, None, str(exc)[:MAX_ERROR_CHARS], latency)
        latency = int((time.perf_counter() - started) * 1000)
        head = answer.body[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace")
        return Outcome(answer.status, head, None, latency)

    async def _settle(self, row: RowMapping, outcome: Outcome) -> None:
        """Record the outcome; outcomes that finish together share one transaction.

        SQLite has one writer: a transaction per delivery would make the worker compete with
        the inbound traffic that produces the events. The first outcome to get the lock writes
        every outcome waiting by then (group commit); the others find theirs done.
        """
        step = self._settlement(row, outcome)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((step, done))
        async with self._settling:
            if not done.done():
                batch, self._outcomes = self._outcomes, []
                try:
                    async with self._ctx.db.begin() as conn:
                        await webhook_store.settle_many(conn, [step for step, _ in batch])
                except Exception as exc:
                    for _, waiting in batch:
                        waiting.set_exception(exc)
                else:
                    for _, waiting in batch:
                        waiting.set_result(None)
        await done
        metrics.WEBHOOK_DELIVERIES.labels(state=step[2].value).inc()
        log.info(
            "webhook_attempt",
            delivery_id=row["id"],
            endpoint_id=row["endpoint_id"],
            account_id=row["account_id"],
            event_type=row["type"],
            attempt=step[1],
            status=outcome.status,
            error=outcome.error,
            state=step[2].value,
        )

    def _settlement(
        self, row: RowMapping, outcome: Outcome
    ) -> tuple[int, int, DeliveryState, dict[str, Any]]:
        """Where the attempt leaves the delivery: its id, claim, next state and columns."""
        settings = self._ctx.settings
        now = self._ctx.clock()
        attempts = int(row["attempts"])
        values: dict[str, Any] = {
            "last_status": outcome.status,
            "last_response": outcome.response,
            "last_error": outcome.error,
            "last_latency_ms": outcome.latency_ms,
        }
        if success(outcome.status):
            values.update(delivered_ms=now, next_attempt_ms=None)
            return int(row["id"]), attempts, DeliveryState.DELIVERED, values
        delay = retry_delay_ms(
            attempts,
            base_seconds=settings.webhook_retry_base_seconds,
            cap_seconds=settings.webhook_retry_cap_seconds,
        )
        to, next_ms = after_failure(now, delay, int(row["deadline_ms"]))
        values["next_attempt_ms"] = next_ms
        return int(row["id"]), attempts, to, values


def _data(text: str) -> dict[str, Any]:
    data = orjson.loads(text)
    return data if isinstance(data, dict) else {}
