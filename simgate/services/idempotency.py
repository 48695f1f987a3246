"""Idempotency keys: a client that repeats a send with the same key gets the first answer again.

A client that timed out waiting for ``/sendsms/`` cannot know whether its messages were stored;
retrying without a key may text every recipient twice. With a key, the retry is answered with
the first answer (for 24 hours, per account) and nothing is sent again.

How two requests with one key cannot both send: the key row is written first in the send's own
transaction, before any message, and committed with them, with the answer. A second request
with the key writes the same row: on PostgreSQL its insert waits for the first transaction,
on SQLite the write lock does; it then finds the committed row and replays its answer. Should
the first send fail (a 400, a crash), its transaction takes the key row away with it, and the
next request with the key simply runs. No state is ever left half done, so nothing needs
cleaning up but keys past their 24 hours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.context import Context
from simgate.domain.errors import IdempotencyKeyReused, StateConflict, invalid
from simgate.services import messages
from simgate.services.messages import SendOutcome, SendRequest
from simgate.store import idempotency as key_store

log = structlog.get_logger(__name__)

#: How long a key answers with its first answer; an older key is as good as new.
KEY_TTL_MS: Final = 24 * 3600 * 1000
#: Longest key, the column's width.
MAX_KEY_CHARS: Final = 255
#: Keys are printable ASCII: what fits an HTTP header unmangled, and a UUID or a hash.
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_CHARS}}}")
#: One claimed key in this many purges the keys past their TTL, after its send committed.
PURGE_EVERY: Final = 100


def check_key(key: str, parameter: str = "idempotency_key") -> str:
    """``key`` when it can be an idempotency key; a 400 naming ``parameter`` otherwise."""
    if _KEY.fullmatch(key) is None:
        raise invalid(parameter, f"1 to {MAX_KEY_CHARS} printable ASCII characters")
    return key


def request_digest(request: SendRequest) -> str:
    """SHA-256 of the send's parsed parameters: the same request however it was carried
    (query or form, GET or POST, parameters in any order), another one if any value differs."""
    parameters = dataclasses.asdict(request)
    # Not the client's: the account's region. A retry after it changed is the same request, and
    # digests stored before regions existed stay valid.
    parameters.pop("region", None)
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Answer:
    """An answer as the adapter sent it: what a repeat of the request gets back."""

    status: int
    body: str


@dataclass(frozen=True)
class KeyedSend:
    """Either the outcome of a send that ran now, or the stored answer of the first one."""

    outcome: SendOutcome | None = None
    replay: Answer | None = None


class _Replay(Exception):
    """Not an error: how the guard stops a send whose key already has an answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("replay")
        self.answer = answer


@dataclass
class _KeyGuard:
    """Claims the key first thing in the send's transaction and records its answer last."""

    ctx: Context
    account_id: int
    key: str
    digest: str
    answer_of: Callable[[SendOutcome], Answer]
    claim_id: int | None = None

    async def claim(self, conn: AsyncConnection) -> None:
        now = self.ctx.clock()
        self.claim_id = await key_store.claim(
            conn,
            self.account_id,
            self.key,
            request_digest=self.digest,
            now_ms=now,
            stale_before_ms=now - KEY_TTL_MS,
        )
        if self.claim_id is not None:
            return
        held = await key_store.get(conn, self.account_id, self.key)
        if held is None:  # only if it was purged between the two statements: let the client retry
            raise StateConflict("The idempotency key changed meanwhile; try again.")
        if held["request_digest"] != self.digest:
            raise IdempotencyKeyReused(
                "This idempotency key was already used for a different request in the last"
                " 24 hours; use a new key for a new request.",
                parameter="idempotency_key",
            )
        raise _Replay(Answer(status=int(held["status"]), body=str(held["response"])))

    async def record(self, conn: AsyncConnection, outcome: SendOutcome) -> None:
        if self.claim_id is None:  # claim() either set it or raised
            raise RuntimeError("record() before claim()")
        answer = self.answer_of(outcome)
        await key_store.record_answer(
            conn, self.account_id, self.claim_id, status=answer.status, response=answer.body
        )


async def send(
    ctx: Context,
    account_id: int,
    key: str,
    request: SendRequest,
    answer_of: Callable[[SendOutcome], Answer],
) -> KeyedSend:
    """Send once per ``key``: run the send and store ``answer_of(outcome)`` with its messages,
    or give back the answer stored for the key by an earlier identical request.

    The same key with a different request within 24 hours is a 409 ``idempotency_key_reused``.
    A send refused with an error stores nothing, the key included: a repeat is checked again.
    """
    guard = _KeyGuard(ctx, account_id, check_key(key), request_digest(request), answer_of)
    try:
        outcome = await messages.send(ctx, account_id, request, guard)
    except _Replay as replay:
        return KeyedSend(replay=replay.answer)
    if guard.claim_id is not None and guard.claim_id % PURGE_EVERY == 0:
        await purge_expired(ctx)
    return KeyedSend(outcome=outcome)


async def purge_expired(ctx: Context) -> int:
    """Delete the keys past their 24 hours, of every account; how many went.

    Housekeeping only (an expired key is ignored anyway), so a failure is logged and swallowed:
    the send it follows is committed, and its client must get its answer.
    """
    try:
        async with ctx.db.begin() as conn:
            return await key_store.purge_expired(conn, ctx.clock() - KEY_TTL_MS)
    except SQLAlchemyError as exc:
        log.warning("idempotency_purge_failed", error=type(exc).__name__)
        return 0
