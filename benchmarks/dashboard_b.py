"""How fast the dashboard's Inbox, Webhooks and API access pages answer with many rows.

Starts ``simgate serve`` on a fresh database (a SQLite file, or a new PostgreSQL database that
is dropped afterwards) holding one account with ``--messages`` received SMS and as many sent
ones, spread over ``--numbers`` numbers (one of them, the busiest, holds 5 % of each side), and
one webhook endpoint with ``--deliveries`` log rows. Signs in through the form as a browser
would, then asks each page ``--repeat`` times (after three warm-up requests) and reports the
round trip on loopback (server time plus well under a millisecond of HTTP).

Baselines from the same run: the sign-in page (a page with one small query), and the Inbox
pages again after dropping the three indexes its conversations read (``INDEXES``), which shows
what they buy. The query plans of the Inbox and delivery-log reads are printed for the engine
(``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL), captured from the store
functions themselves.

    .venv/bin/python benchmarks/dashboard_b.py [--engine sqlite|postgres|both] \\
        [--messages 100000] [--numbers 2000] [--deliveries 100000] [--repeat 30]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
from _support import serving
from dispatch import DEFAULT_PG_URL, fresh_database
from sqlalchemy import event, func, insert, select, text

from simgate.config import Settings
from simgate.context import Context
from simgate.domain.webhooks import Format
from simgate.services import accounts, keys, webhooks
from simgate.store import threads as thread_store
from simgate.store import webhooks as webhook_store
from simgate.store.database import Database
from simgate.store.migrate import upgrade
from simgate.store.tables import inbox, messages, webhook_deliveries

EMAIL = "bench@example.test"
PASSWORD = "bench-password"  # noqa: S105 - the throwaway account of a benchmark
SECRET_KEY = "benchmark-only secret key, 32 characters or more"  # noqa: S105 - same
T0 = 1_770_000_000_000
CHUNK = 5000
INDEXES = (
    "ix_inbox_account_number",
    "ix_inbox_account_received",
    "ix_messages_account_recipient",
)
#: The page measured as a baseline: a signed-in page that reads no list (the password form).
BASELINE = "password page (baseline)"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def settings(database_url: str) -> Settings:
    cost = "test"  # the cheap password hash: a benchmark's account
    return Settings(
        database_url=database_url,
        password_hash_cost=cost,
        log_level="warning",
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        webhook_allow_private=True,
    )


def number_of(index: int, numbers: int) -> str:
    """The busiest number gets every twentieth row; the others share the rest evenly."""
    if index % 20 == 0:
        return "+32470000000"
    return f"+3247{index % numbers + 1:07d}"


async def _fill(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    account = await accounts.create_account(ctx, EMAIL, PASSWORD)
    for name in ("shop", "billing", "tests"):
        await keys.create_key(ctx, EMAIL, name)
    created = await webhooks.add_endpoint(
        ctx, account.account_id, "http://127.0.0.1:9/hook", Format.V2, (), enabled=False
    )
    endpoint_id = created.endpoint.id
    account_id = account.account_id
    for start in range(0, args.messages, CHUNK):
        count = min(CHUNK, args.messages - start)
        received = [
            {
                "guid": f"in{start + i:038d}",
                "account_id": account_id,
                "device_id": None,
                "device_sid": "bench",
                "number": number_of(start + i, args.numbers),
                "text": f"received {start + i}",
                "sim": 1,
                "received_ms": T0 + (start + i) * 1000,
                "created_ms": T0 + (start + i) * 1000,
                "read": (start + i) % 10 != 0,
                "alias": None,
                "dedup_key": f"bench:{start + i}",
            }
            for i in range(count)
        ]
        sent = [
            {
                "guid": f"out{start + i:037d}",
                "account_id": account_id,
                "recipient": number_of(start + i, args.numbers),
                "text": f"sent {start + i}",
                "encoding": "GSM7",
                "parts": 1,
                "channel": "sms",
                "state": "sent",
                "not_before_ms": T0 + (start + i) * 1000 + 500,
                "created_ms": T0 + (start + i) * 1000 + 500,
                "updated_ms": T0 + (start + i) * 1000 + 500,
                "sent_ms": T0 + (start + i) * 1000 + 900,
                "error_api": "",
                "error_mobile": "",
                "retries": 0,
                "shorturl": False,
                "encrypted": False,
                "source": "api",
            }
            for i in range(count)
        ]
        async with ctx.db.begin() as conn:
            await conn.execute(insert(inbox), received)
            await conn.execute(insert(messages), sent)
    for start in range(0, args.deliveries, CHUNK):
        count = min(CHUNK, args.deliveries - start)
        rows = [
            {
                "account_id": account_id,
                "endpoint_id": endpoint_id,
                "event_id": f"{start + i:036d}",
                "type": "sms.received",
                "subject": f"in{start + i:038d}"[:64],
                "occurred_ms": T0 + (start + i) * 1000,
                "created_ms": T0 + (start + i) * 1000,
                "data": "{}",
                "state": "dead" if (start + i) % 50 == 0 else "delivered",
                "attempts": 1,
                "next_attempt_ms": None,
                "deadline_ms": T0 + (start + i) * 1000 + 86_400_000,
                "last_attempt_ms": T0 + (start + i) * 1000 + 10,
                "last_status": 200,
                "last_latency_ms": 5,
            }
            for i in range(count)
        ]
        async with ctx.db.begin() as conn:
            await conn.execute(insert(webhook_deliveries), rows)
    if ctx.db.is_postgres:  # as autovacuum would soon after such a load
        async with ctx.db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    return {"account_id": account_id, "endpoint_id": endpoint_id}


def prepare(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(database_url)

    async def main() -> dict[str, Any]:
        ctx = Context(settings=settings(database_url), db=Database(database_url))
        try:
            return await _fill(ctx, args)
        finally:
            await ctx.db.dispose()

    return asyncio.run(main())


@contextlib.contextmanager
def server(database_url: str) -> Iterator[str]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_SECRET_KEY": SECRET_KEY,
    }
    with serving(env) as url:
        yield url


def check(condition: object, problem: object) -> None:
    if not condition:
        raise RuntimeError(problem)


def sign_in(http: httpx.Client) -> None:
    found = TOKEN.search(http.get("/dashboard/login").text)
    check(found, "no sign-in form")
    assert found is not None  # noqa: S101 - for the type checker, checked above
    answer = http.post(
        "/dashboard/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": found.group(1)},
    )
    check(answer.status_code == 303, answer.text)


def timed(http: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    for _ in range(3):
        answer = http.get(path)
        check(answer.status_code == 200, (path, answer.status_code))
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        check(answer.status_code == 200, (path, answer.status_code))
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max_ms": round(samples[-1], 2),
    }


def pages(endpoint_id: int, args: argparse.Namespace) -> dict[str, str]:
    busiest = "/dashboard/inbox/" + quote("+32470000000", safe="+")
    return {
        "inbox, first page": "/dashboard/inbox",
        "inbox, second page": "",  # filled from the first page's link
        "thread, busiest number": busiest,
        "thread, busiest, older page": "",  # filled from the busiest page's link
        "thread, another number": "/dashboard/inbox/" + quote("+32470000007", safe="+"),
        "webhooks list": "/dashboard/webhooks",
        "webhook endpoint + log": f"/dashboard/webhooks/{endpoint_id}",
        "webhook log, failed only": f"/dashboard/webhooks/{endpoint_id}?state=dead",
        "API access": "/dashboard/access",
    }


#: The pages measured again without the thread indexes: a thread's pages (the
#: thread list is not, its walk probes ix_inbox_account_number for every SMS it passes; its
#: alternative, grouping the whole inbox, is timed at the SQL level instead).
INBOX_PAGES = (
    "thread, busiest number",
    "thread, busiest, older page",
    "thread, another number",
)


def link(http: httpx.Client, path: str, pattern: str) -> str:
    """The first link of the page at ``path`` that matches ``pattern``."""
    found = re.search(pattern, http.get(path).text)
    check(found, f"no link {pattern} on {path}")
    assert found is not None  # noqa: S101 - for the type checker, checked above
    return found.group(1).replace("&amp;", "&")


def measure(
    url: str,
    endpoint_id: int,
    args: argparse.Namespace,
    paths: dict[str, str] | None = None,
    only: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each page's timings, and the paths (the "older" links found on the pages the first
    time, given again for a second run)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        sign_in(http)
        if paths is None:
            paths = pages(endpoint_id, args)
            paths["thread, busiest, older page"] = link(
                http, paths["thread, busiest number"], r'href="([^"]+\?before=[^"]+)"'
            )
            paths["inbox, second page"] = link(
                http, "/dashboard/inbox", r'href="(/dashboard/inbox\?before=[^"]+)"'
            )
        results = {BASELINE: timed(http, "/dashboard/password", args.repeat)}
        for name, path in paths.items():
            if not only or name in only:
                results[name] = timed(http, path, args.repeat)
    return results, paths


async def _plans(
    database_url: str, ids: dict[str, Any], only: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """The plans of the store's reads (or of the ``only`` ones), for the statements exactly as
    they run (each read runs once, to capture its statement)."""
    db = Database(database_url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    account_id = ids["account_id"]
    reads: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "thread list": lambda conn: thread_store.thread_page(
            conn, account_id, before=None, limit=26
        ),
        "thread counts": lambda conn: thread_store.counts(
            conn, account_id, ["+32470000000", "+32470000007"]
        ),
        "thread, received side": lambda conn: thread_store.received_before(
            conn, account_id, "+32470000000", None, 51
        ),
        "thread, sent side": lambda conn: thread_store.sent_before(
            conn, account_id, "+32470000000", None, 51
        ),
        "delivery log": lambda conn: webhook_store.list_deliveries(
            conn, account_id, ids["endpoint_id"], state=None, before_id=None, limit=26
        ),
        "delivery counts, open only": lambda conn: webhook_store.state_counts(
            conn, account_id, delivered=False
        ),
    }
    plans: dict[str, list[str]] = {}
    explain = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    try:
        for name, read in reads.items():
            if only and name not in only:
                continue
            captured.clear()
            event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
            async with db.connect() as conn:
                await read(conn)
            event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
            statement, parameters = captured[-1]
            async with db.connect() as conn:
                rows = (await conn.exec_driver_sql(explain + statement, parameters)).all()
            plans[name] = [str(row[-1]) for row in rows]
    finally:
        await db.dispose()
    return plans


async def _thread_list_queries(database_url: str, account_id: int) -> dict[str, float]:
    """The first page of threads, as the store reads it (walk newest first, keep each number's
    latest SMS) and as the obvious query would (group the whole inbox by number, sort the
    groups): best of 10, in milliseconds, on the same database."""
    db = Database(database_url)
    grouped = (
        select(inbox.c.number, func.max(inbox.c.received_ms).label("last_ms"))
        .where(inbox.c.account_id == account_id)
        .group_by(inbox.c.number)
        .order_by(text("last_ms DESC"), inbox.c.number.desc())
        .limit(26)
    )

    async def best(read: Callable[[Any], Awaitable[Any]]) -> float:
        times = []
        async with db.connect() as conn:
            for _ in range(10):
                started = time.perf_counter()
                await read(conn)
                times.append((time.perf_counter() - started) * 1000)
        return round(min(times), 2)

    try:
        walk = await best(
            lambda conn: thread_store.thread_page(conn, account_id, before=None, limit=26)
        )
        group = await best(lambda conn: conn.execute(grouped))
    finally:
        await db.dispose()
    return {"walk_ms": walk, "group_by_ms": group, "ratio_group_by_to_walk": round(group / walk, 1)}


async def _drop_indexes(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.begin() as conn:
            for name in INDEXES:
                await conn.execute(text(f"DROP INDEX {name}"))
    finally:
        await db.dispose()


def bench(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    with fresh_database(engine, args.pg_url) as database_url:
        started = time.monotonic()
        ids = prepare(database_url, args)
        filled_s = round(time.monotonic() - started, 1)
        plans = asyncio.run(_plans(database_url, ids))
        thread_list = asyncio.run(_thread_list_queries(database_url, ids["account_id"]))
        with server(database_url) as url:
            with_indexes, paths = measure(url, ids["endpoint_id"], args)
        asyncio.run(_drop_indexes(database_url))
        # Not the thread list: without its index, its walk probes the whole inbox per SMS.
        sides = ("thread, received side", "thread, sent side")
        plans_without = asyncio.run(_plans(database_url, ids, only=sides))
        with server(database_url) as url:
            without, _ = measure(url, ids["endpoint_id"], args, paths, only=INBOX_PAGES)
    return {
        "fill_seconds": filled_s,
        "pages": with_indexes,
        "without_thread_indexes": without,
        "ratio_without_to_with_p50": {
            name: round(without[name]["p50_ms"] / with_indexes[name]["p50_ms"], 2)
            for name in INBOX_PAGES
        },
        "thread_list_sql": thread_list,
        "plans": plans,
        "plans_without_thread_indexes": plans_without,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--messages", type=int, default=100_000, help="received, and as many sent")
    parser.add_argument("--numbers", type=int, default=2000)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pg-url", default=os.environ.get("SIMGATE_TEST_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
    result: dict[str, Any] = {engine: bench(engine, args) for engine in engines}
    result["command"] = (
        f"benchmarks/dashboard_b.py --engine {args.engine} --messages {args.messages} "
        f"--numbers {args.numbers} --deliveries {args.deliveries} --repeat {args.repeat}"
    )
    print(json.dumps(result))
    print()
    for engine in engines:
        row = result[engine]
        print(
            f"{engine}: {args.messages} received + {args.messages} sent SMS over "
            f"{args.numbers} numbers, {args.deliveries} webhook deliveries"
        )
        print(f"  {'page':<32}{'p50 ms':>9}{'p95 ms':>9}{'no-index p50':>13}{'ratio':>8}")
        for name, cells in row["pages"].items():
            without = row["without_thread_indexes"].get(name)
            extra = (
                f"{without['p50_ms']:>13}{row['ratio_without_to_with_p50'][name]:>7}x"
                if without and name in INBOX_PAGES
                else ""
            )
            print(f"  {name:<32}{cells['p50_ms']:>9}{cells['p95_ms']:>9}{extra}")
        sql = row["thread_list_sql"]
        print(
            f"  thread list SQL: walk {sql['walk_ms']} ms, group by {sql['group_by_ms']} ms"
            f" ({sql['ratio_group_by_to_walk']}x)"
        )
        for name, lines in row["plans"].items():
            print(f"  plan, {name}: {' | '.join(lines)}")


if __name__ == "__main__":
    main()
