"""/sendsms/ requests share transactions (group commit), and none is answered 200 before the
commit that holds its messages: when that commit fails, every request of the group answers 503
and none of their messages reaches a phone or the sent log."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.dispatch.test_window_and_leases import sends_within, states
from tests.support.api import refused
from tests.support.handphone import connected
from tests.support.server import LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CLIENTS = 12


@contextmanager
def failing_commits(server: LiveServer) -> Iterator[list[int]]:
    """Every commit of the server's database fails while inside (a disk that filled up)."""
    engine = server.ctx.db.engine.sync_engine
    refused_commits: list[int] = []
    lock = threading.Lock()

    def refuse(_conn: Any) -> None:
        with lock:
            refused_commits.append(1)
        raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(engine, "commit", refuse)
    try:
        yield refused_commits
    finally:
        event.remove(engine, "commit", refuse)


def count_commits(server: LiveServer) -> tuple[list[int], Callable[[], None]]:
    engine = server.ctx.db.engine.sync_engine
    commits: list[int] = []

    def seen(_conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", seen)
    return commits, lambda: event.remove(engine, "commit", seen)


async def _send_all(server: LiveServer, api_key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/sendsms/",
                    data={
                        "apikey": api_key,
                        "recipients": f"+324701{index:05d}",
                        "message": f"burst {index}",
                    },
                )
                for index in range(count)
            )
        )


async def test_concurrent_sends_share_commits_and_each_is_stored(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory()
    account = server.create_account()
    commits, stop = count_commits(server)
    try:
        answers = await _send_all(server, account.api_key, CLIENTS * 4)
    finally:
        stop()
    assert [answer.status_code for answer in answers] == [200] * (CLIENTS * 4)
    guids = {answer.json()["result"]["id"] for answer in answers}
    assert set(await states(server, account)) == guids
    # No phone is connected, so these commits are the sends' own: fewer than one each.
    assert len(commits) < CLIENTS * 4, len(commits)


async def test_a_failed_commit_answers_503_to_its_whole_group_and_sends_nothing(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory()
    account = server.create_account()
    paired = server.add_device(account)
    async with connected(server, paired.token) as phone:
        # The phone is live once it has been handed a message (its session's own commits done).
        [warm_up] = await _send_all(server, account.api_key, 1)
        assert await sends_within(phone, 2.0) == [warm_up.json()["result"]["id"]]
        with failing_commits(server) as refused_commits:
            answers = await _send_all(server, account.api_key, CLIENTS)
        assert refused_commits
        for answer in answers:
            body = refused(answer, 503, "unavailable")
            assert body["result"] == {"error": "unavailable", "sent": "0"}
        # Nothing was stored, so nothing reaches the phone or the log.
        assert await sends_within(phone, 1.0) == []
        assert list(await states(server, account)) == [warm_up.json()["result"]["id"]]
        # The gateway recovers by itself: the next send goes through.
        [after] = await _send_all(server, account.api_key, 1)
        assert after.status_code == 200, after.text
        assert await sends_within(phone, 2.0) == [after.json()["result"]["id"]]
