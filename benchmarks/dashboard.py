"""Dashboard pages with 100 000 messages in the database: server time per page, and the plans.

For each engine (a fresh SQLite file; a fresh database on the PostgreSQL of
``SIMGATE_TEST_PG_URL``), the schema is migrated, one account gets 3 devices and 100 000
messages (inserted through ``store.messages.insert_many`` in batches, spread over 60 days, in
every state, to 2 000 numbers) plus 10 000 received SMS, and a second account 20 000 messages
of its own (so that no page can get away without its account filter).
Then every list page is rendered in-process through the whole ASGI app (routing, session,
CSRF, service, store, templates) with httpx's ASGI transport, after warm-up: median and p95
over ``--repeat`` renders each, against a baseline measured in the same run (``GET /dashboard``,
a redirect through the same stack with no query). Target: every page under 100 ms.

Last, the plans: SQLite's EXPLAIN QUERY PLAN and PostgreSQL's EXPLAIN for the statements
behind the list pages (sent list with each filter, overview per day), to show they use an index.

    .venv/bin/python benchmarks/dashboard.py [--messages 100000] [--repeat 30] \
        [--engines sqlite,postgres]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from simgate.app import create_app
from simgate.config import Settings
from simgate.domain.segments import count_segments
from simgate.domain.states import MessageState
from simgate.services import accounts, devices, overview
from simgate.services.overview import History
from simgate.store import messages as message_store
from simgate.store import sent_log as sent_log_store
from simgate.store.migrate import upgrade_async
from simgate.store.overview import per_day_query
from simgate.store.tables import inbox

PASSWORD = "bench password"  # noqa: S105 - a throwaway account of the benchmark
DAY_MS = 86_400_000
STATES = [
    ("sent", 80),
    ("failed", 8),
    ("queued", 5),
    ("dispatched", 2),
    ("expired", 2),
    ("cancelled", 2),
    ("scheduled", 1),
]
WORDS = [
    "order",
    "ready",
    "table",
    "booked",
    "parcel",
    "delivery",
    "code",
    "reminder",
    "invoice",
    "meeting",
]


def pg_admin_dsn() -> str:
    url = os.environ.get("SIMGATE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def new_database(engine: str, tmp: Path) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'dashboard.db'}"
    name = f"bench_dashboard_{os.getpid()}"
    conn = await asyncpg.connect(pg_admin_dsn(), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return (
        "postgresql+asyncpg://"
        + pg_admin_dsn().removeprefix("postgresql://").rsplit("/", 1)[0]
        + "/"
        + name
    )


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(pg_admin_dsn(), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def message_rows(
    account_id: int, sids: list[str], count: int, now: int, rng: random.Random
) -> list[dict[str, Any]]:
    weights = [weight for _, weight in STATES]
    names = [name for name, _ in STATES]
    rows = []
    for index in range(count):
        created = now - int((count - index) / count * 60 * DAY_MS) + rng.randrange(1000)
        state = rng.choices(names, weights)[0]
        body = f"Your {rng.choice(WORDS)} {rng.choice(WORDS)} #{index}"
        seg = count_segments(body)
        sid = rng.choice(sids)
        handed = state in ("sent", "failed", "dispatched")
        rows.append(
            {
                "guid": secrets.token_hex(20),
                "account_id": account_id,
                "recipient": f"+3247{rng.randrange(2000):07d}",
                "text": body,
                "encoding": seg.encoding,
                "parts": seg.parts,
                "channel": "sms",
                "state": state,
                "port": None,
                "requested_sid": None,
                "device_id": None,
                "device_sid": sid if handed else None,
                "schedule_ms": now + DAY_MS if state == "scheduled" else None,
                "not_before_ms": created,
                "created_ms": created,
                "updated_ms": created + 2000,
                "dispatched_ms": created + 1000 if handed else None,
                "sent_ms": created + 2000 if state == "sent" else None,
                "error_api": "",
                "error_mobile": "no credit" if state == "failed" else "",
                "retries": 0,
                "shorturl": False,
                "encrypted": False,
                "source": "api",
                "expires_ms": created + DAY_MS,
            }
        )
    return rows


async def fill(app: Any, count: int) -> dict[str, Any]:
    ctx = app.state.ctx
    rng = random.Random(7)
    now = ctx.clock()
    owner = await accounts.create_account(ctx, "owner@example.test", PASSWORD)
    other = await accounts.create_account(ctx, "other@example.test", PASSWORD)
    sids = [
        (await devices.add_device(ctx, "owner@example.test", f"phone {n}")).sid for n in range(3)
    ]
    other_sid = (await devices.add_device(ctx, "other@example.test", "theirs")).sid
    started = time.perf_counter()
    for account_id, total, account_sids in (
        (owner.account_id, count, sids),
        (other.account_id, count // 5, [other_sid]),
    ):
        rows = message_rows(account_id, account_sids, total, now, rng)
        for start in range(0, len(rows), 5000):
            async with ctx.db.begin() as conn:
                await message_store.insert_many(conn, rows[start : start + 5000])
    async with ctx.db.begin() as conn:
        device_ids = [
            int(r[0])
            for r in (await conn.execute(text("SELECT id FROM devices ORDER BY id"))).all()
        ]
        received = [
            {
                "guid": secrets.token_hex(20),
                "account_id": owner.account_id,
                "device_id": device_ids[0],
                "device_sid": sids[0],
                "number": f"+3247{rng.randrange(2000):07d}",
                "text": "reply",
                "sim": 1,
                "received_ms": now - rng.randrange(60 * DAY_MS),
                "created_ms": now,
                "read": False,
                "alias": None,
                "dedup_key": f"bench:{n}",
            }
            for n in range(count // 10)
        ]
        await conn.execute(inbox.insert(), received)
    seconds = time.perf_counter() - started
    if not ctx.db.is_sqlite:
        # What autovacuum does soon after a bulk load: statistics, and the visibility map that
        # lets index-only scans skip the table. (simgate never runs ANALYZE on SQLite: the
        # SQLite figures are without statistics, as a real installation runs.)
        async with ctx.db.engine.connect() as raw:
            auto = await raw.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM ANALYZE"))
    async with ctx.db.connect() as conn:
        some = (
            await conn.execute(
                text(
                    "SELECT guid, recipient, id FROM messages WHERE account_id = :a"
                    " ORDER BY id LIMIT 1 OFFSET 200"
                ),
                {"a": owner.account_id},
            )
        ).one()
    return {
        "account_id": owner.account_id,
        "sids": sids,
        "old_guid": some[0],
        "number": some[1],
        "insert_seconds": round(seconds, 2),
    }


async def signed_in_client(app: Any) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.test")
    page = await client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = await client.post(
        "/dashboard/login",
        data={"email": "owner@example.test", "password": PASSWORD, "csrf_token": token},
    )
    check(answer.status_code == 303, answer.text)
    return client


async def measure(
    client: httpx.AsyncClient,
    path: str,
    repeat: int,
    expect: int,
    before: Callable[[], None] = lambda: None,
) -> list[float]:
    """Server time of ``repeat`` renders of ``path`` (after 3 for warm-up); ``before`` runs
    before each one, untimed."""
    for _ in range(3):
        before()
        answer = await client.get(path)
        check(answer.status_code == expect, (path, answer.status_code, answer.text[:300]))
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        check(answer.status_code == expect, path)
    return times


def check(condition: bool, what: object) -> None:
    if not condition:
        raise RuntimeError(f"unexpected answer: {what}")


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
    }


async def plans(app: Any, facts: dict[str, Any]) -> dict[str, str]:
    ctx = app.state.ctx
    account = facts["account_id"]
    _days, starts = overview.day_starts(ctx.clock(), ctx)
    statements = {
        "sent: all": sent_log_store.search_query(account, limit=51),
        "sent: status": sent_log_store.search_query(account, state="failed", limit=51),
        "sent: device": sent_log_store.search_query(account, device_sid=facts["sids"][1], limit=51),
        "sent: number": sent_log_store.search_query(account, number=facts["number"], limit=51),
        "sent: dates": sent_log_store.search_query(
            account, from_ms=starts[10], to_ms=starts[11], limit=51
        ),
        "overview: per day": per_day_query(account, [*starts, starts[-1] + DAY_MS]),
    }
    dialect = sqlite.dialect() if ctx.db.is_sqlite else postgresql.dialect()
    found = {}
    async with ctx.db.connect() as conn:
        for name, statement in statements.items():
            sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if ctx.db.is_sqlite else "EXPLAIN "
            rows = (await conn.execute(text(prefix + sql))).all()
            found[name] = " | ".join(str(row[-1]).strip() for row in rows)
    return found


NEW_INDEXES = {
    "ix_messages_account_recipient": "messages (account_id, recipient, id)",
    "ix_messages_account_created": "messages (account_id, created_ms)",
    "ix_messages_account_state_created": "messages (account_id, state, created_ms)",
    "ix_messages_account_state_sent": "messages (account_id, state, sent_ms)",
}


async def write_cost(app: Any, account_id: int, per_round: int) -> dict[str, float]:
    """Microseconds per state change (queued -> dispatched -> sent, 100 messages a
    transaction, as group commits write them) and per inserted message, with the indexes of
    migration 0008 and without them, alternating: with, without, with."""
    ctx = app.state.ctx
    rng = random.Random(11)
    now = ctx.clock()
    results: dict[str, list[float]] = {"with": [], "without": []}
    inserts: dict[str, list[float]] = {"with": [], "without": []}
    for variant in ("with", "without", "with"):
        async with ctx.db.begin() as conn:
            for name, target in NEW_INDEXES.items():
                if variant == "without":
                    await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
                else:
                    await conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
        rows = message_rows(account_id, ["bench-sid"], per_round, now, rng)
        for row in rows:
            row.update(state="queued", device_sid=None, dispatched_ms=None, sent_ms=None)
        started = time.perf_counter()
        for start in range(0, len(rows), 100):
            async with ctx.db.begin() as conn:
                await message_store.insert_many(conn, rows[start : start + 100])
        inserts[variant].append((time.perf_counter() - started) / len(rows) * 1e6)
        started = time.perf_counter()
        for start in range(0, len(rows), 100):
            batch = rows[start : start + 100]
            async with ctx.db.begin() as conn:
                for row in batch:
                    await message_store.transition(
                        conn,
                        account_id,
                        row["guid"],
                        MessageState.DISPATCHED,
                        values={"device_sid": "bench-sid", "dispatched_ms": now, "updated_ms": now},
                    )
            async with ctx.db.begin() as conn:
                for row in batch:
                    await message_store.transition(
                        conn,
                        account_id,
                        row["guid"],
                        MessageState.SENT,
                        values={"sent_ms": now, "updated_ms": now},
                    )
        results[variant].append((time.perf_counter() - started) / (2 * len(rows)) * 1e6)
    return {
        "state_change_us_with": round(statistics.mean(results["with"]), 1),
        "state_change_us_without": round(statistics.mean(results["without"]), 1),
        "insert_us_with": round(statistics.mean(inserts["with"]), 1),
        "insert_us_without": round(statistics.mean(inserts["without"]), 1),
    }


async def run_engine(engine: str, count: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = await new_database(engine, Path(tmp))
        try:
            await upgrade_async(url)
            settings = Settings(
                database_url=url,
                password_hash_cost="test",  # noqa: S106 - a cost level, not a password
                log_level="warning",
                access_log=False,
                secret_key_file=str(Path(tmp) / "key"),
                dashboard_signin_free_failures=100,
            )
            app = create_app(settings)
            facts = await fill(app, count)
            client = await signed_in_client(app)
            sid = facts["sids"][1]
            pages = {
                "baseline (GET /dashboard, redirect)": ("/dashboard", 302),
                "overview": ("/dashboard/", 200),
                "devices": ("/dashboard/devices", 200),
                "compose": ("/dashboard/compose", 200),
                "sent": ("/dashboard/sent", 200),
                "sent, older page": (f"/dashboard/sent?before={facts['old_guid']}", 200),
                "sent ?status=failed": ("/dashboard/sent?status=failed", 200),
                "sent ?device=": (f"/dashboard/sent?device={sid}", 200),
                "sent ?number= (full)": (f"/dashboard/sent?number=%2B{facts['number'][1:]}", 200),
                "sent ?number= (part)": ("/dashboard/sent?number=4700012", 200),
                "sent ?text=": ("/dashboard/sent?text=parcel+code", 200),
                "sent ?from=&to= (one day)": ("/dashboard/sent?from=2026-11-01&to=2026-11-01", 200),
                "message page": (f"/dashboard/messages/{facts['old_guid']}", 200),
            }
            results = {}
            for name, (path, status) in pages.items():
                results[name] = summary(await measure(client, path, repeat, status))
                if name == "overview":  # the days before today counted again on every render

                    def forget() -> None:
                        app.state.dashboard.history = History()

                    results["overview, past days not remembered"] = summary(
                        await measure(client, path, repeat, status, forget)
                    )
            await client.aclose()
            found_plans = await plans(app, facts)
            costs = await write_cost(app, facts["account_id"], 2000)
            await app.state.ctx.db.dispose()
        finally:
            await drop_database(url)
    base = results["baseline (GET /dashboard, redirect)"]["median_ms"]
    for item in results.values():
        item["x_baseline"] = round(item["median_ms"] / base, 1) if base else 0.0
    return {
        "insert_seconds": facts["insert_seconds"],
        "pages": results,
        "plans": found_plans,
        "write_cost": costs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    report: dict[str, Any] = {"messages": args.messages, "repeat": args.repeat, "engines": {}}
    for engine in args.engines.split(","):
        report["engines"][engine] = asyncio.run(run_engine(engine, args.messages, args.repeat))
    print(json.dumps(report, indent=2))
    for engine, data in report["engines"].items():
        print(
            f"\n{engine}: {args.messages} messages (+{args.messages // 5} of another account), "
            f"inserted in {data['insert_seconds']} s",
            file=sys.stderr,
        )
        print(f"{'page':40} {'median ms':>10} {'p95 ms':>8} {'x base':>7}", file=sys.stderr)
        for name, item in data["pages"].items():
            print(
                f"{name:40} {item['median_ms']:>10} {item['p95_ms']:>8} {item['x_baseline']:>7}",
                file=sys.stderr,
            )
        print(f"  write path: {data['write_cost']}", file=sys.stderr)
        for name, plan in data["plans"].items():
            print(f"  plan {name}: {plan}", file=sys.stderr)


if __name__ == "__main__":
    main()
