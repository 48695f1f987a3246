"""How fast queued messages drain to many phones, and how soon a live message reaches one.

Starts ``simgate serve`` on a fresh database (a SQLite file, or a new PostgreSQL database that
is dropped afterwards), pairs one account and ``--phones`` devices, and runs two phases:

* **drain**: ``--messages`` messages are accepted through ``/sendsms/`` (1000 recipients a
  request) while every phone is offline; then the phones connect, and the clock runs from the
  first connection attempt to the ``ack`` of the last ``sent`` report → messages per second;
* **live**: with the phones connected and the queue empty, ``--live-messages`` single-recipient
  sends at a steady ``--rate``; per message, the time from the start of the ``/sendsms/``
  request to the arrival of its ``send`` frame at a phone → p50/p99.

The phones are not ``simgate agent`` processes (a hundred Python processes would bury two
cores) but a lightweight phone, many per event loop, that speaks device protocol 1 over a real
WebSocket with the codec of :mod:`simgate.protocol`: ``hello``, then each ``send`` answered
with ``accepted`` and ``sent`` (no delay, no radio), each ``ack`` checked off. Baselines from
the same run, so the ratios survive a noisy machine: the round trip of a request the server
answers without touching the store (an unknown path, 404), idle and interleaved with the live
sends, and the rate at which the server answers such requests from concurrent clients.

    .venv/bin/python benchmarks/dispatch.py [--engine sqlite|postgres|both] \\
        [--messages 50000] [--phones 100] [--live-messages 1000] [--rate 50]

``--profile-server FILE`` runs the server under cProfile and writes its statistics to FILE
(suffixed with the engine) when it stops. Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets
from _support import serving

from simgate.config import Settings
from simgate.context import Context
from simgate.protocol import (
    AcceptedFrame,
    AckFrame,
    HelloFrame,
    PingFrame,
    PongFrame,
    SendFrame,
    SentFrame,
    WelcomeFrame,
    decode_frame,
    device_ws_url,
    encode_frame,
    new_frame_id,
    now_ms,
)
from simgate.services import accounts, devices
from simgate.store.database import Database
from simgate.store.migrate import upgrade

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
#: Recipients per ``/sendsms/`` call while filling the queue (the server's default maximum).
BATCH = 1000
#: Concurrent clients filling the queue, and measuring the 404 throughput baseline.
FILLERS = 4
EMAIL = "bench@example.test"


# ------------------------------------------------------------------------------ measuring


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` in milliseconds, nearest rank."""
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return round(ordered[rank] * 1000, 3)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(samples, 0.50),
        "p99_ms": percentile(samples, 0.99),
        "max_ms": round(max(samples) * 1000, 3),
        "count": len(samples),
    }


@dataclass
class Radio:
    """What every phone of the run saw: first arrival of each GUID, repeats, acks."""

    arrivals: dict[str, float] = field(default_factory=dict)
    repeats: int = 0
    acked: int = 0
    last_ack: float = 0.0
    first_send: float = 0.0
    target: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    waiting_for: set[str] = field(default_factory=set)


class Phone:
    """One device: a WebSocket, answering every ``send`` at once with ``accepted`` and ``sent``.

    Frames go through the protocol's codec both ways, as an agent's would; each ``sent`` frame
    stays pending until its ``ack`` arrives.
    """

    def __init__(self, ws_url: str, token: str, radio: Radio) -> None:
        self._url = ws_url
        self._token = token
        self._radio = radio
        self.pending: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        ws = await websockets.connect(
            self._url, additional_headers={"Authorization": f"Bearer {self._token}"}
        )
        hello = HelloFrame(version="bench-phone/1", driver="bench", sims=(1,))
        await ws.send(encode_frame(hello))
        welcome = decode_frame(await ws.recv())
        if not isinstance(welcome, WelcomeFrame):
            raise RuntimeError(f"expected welcome, got {welcome}")
        self._task = asyncio.get_running_loop().create_task(self._serve(ws))

    async def _serve(self, ws: Any) -> None:
        radio = self._radio
        async with ws:
            async for raw in ws:
                frame = decode_frame(raw)
                if isinstance(frame, SendFrame):
                    now = time.perf_counter()
                    if frame.guid in radio.arrivals:
                        radio.repeats += 1
                    else:
                        radio.arrivals[frame.guid] = now
                        radio.first_send = radio.first_send or now
                    if frame.guid in radio.waiting_for:
                        radio.waiting_for.discard(frame.guid)
                        if not radio.waiting_for:
                            radio.arrived.set()
                    frame_id = new_frame_id()
                    self.pending[frame_id] = frame.guid
                    await ws.send(encode_frame(AcceptedFrame(guid=frame.guid)))
                    sent = SentFrame(id=frame_id, guid=frame.guid, sim=frame.sim or 1, at=now_ms())
                    await ws.send(encode_frame(sent))
                elif isinstance(frame, AckFrame):
                    if self.pending.pop(frame.id, None) is not None:
                        radio.acked += 1
                        radio.last_ack = time.perf_counter()
                        if radio.acked >= radio.target:
                            radio.reached.set()
                elif isinstance(frame, PingFrame):
                    await ws.send(encode_frame(PongFrame()))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


# ------------------------------------------------------------------------ setting it up


@contextlib.contextmanager
def fresh_database(engine: str, pg_url: str) -> Iterator[str]:
    """A new database URL: a SQLite file in a temporary folder, or a PostgreSQL database
    created for the run and dropped after it."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    admin = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"simgate_bench_{os.getpid()}"

    async def run(*statements: str) -> None:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pair(database_url: str, phones: int) -> tuple[str, list[str]]:
    """Migrate, create the account and its devices in-process (``simgate device add`` a hundred
    times would be a hundred Python start-ups); the API key and the device tokens."""
    upgrade(database_url)

    async def main() -> tuple[str, list[str]]:
        # The cheap password hash: the account's password is never used here.
        cost = "test"
        settings = Settings(database_url=database_url, password_hash_cost=cost, log_level="warning")
        ctx = Context(settings=settings, db=Database(database_url))
        try:
            account = await accounts.create_account(ctx, EMAIL, "bench-password")
            tokens = [
                (await devices.add_device(ctx, EMAIL, f"phone {i}")).token for i in range(phones)
            ]
            return account.api_key, tokens
        finally:
            await ctx.db.dispose()

    return asyncio.run(main())


@contextlib.contextmanager
def server(database_url: str, profile: str | None) -> Iterator[str]:
    # The per-key limit is off: the fill sends as fast as it can with one key, on purpose.
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    python = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
    with serving(env, python) as url:
        yield url


# ------------------------------------------------------------------------------- phases


async def not_found_throughput(url: str, seconds: float = 3.0) -> float:
    """Baseline: requests per second the server answers with a 404 to ``FILLERS`` clients."""
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            while time.perf_counter() < stop:
                await http.get("/no-such-path")
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(FILLERS)))
    return done / (time.perf_counter() - started)


async def fill(url: str, api_key: str, count: int) -> tuple[list[str], float]:
    """Accept ``count`` messages with phones offline; their GUIDs and the accept rate."""
    batches = [range(start, min(start + BATCH, count)) for start in range(0, count, BATCH)]
    guids: list[str] = []
    queue: asyncio.Queue[range] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                batch = queue.get_nowait()
                response = await http.post(
                    "/sendsms/",
                    data={
                        "apikey": api_key,
                        "recipients": ",".join(f"+32470{n:06d}" for n in batch),
                        "message": f"drain {batch.start}",
                    },
                )
                response.raise_for_status()
                guids.extend(response.json()["result"]["ids"])

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(FILLERS)))
    return guids, count / (time.perf_counter() - started)


async def drain(url: str, tokens: list[str], guids: list[str], radio: Radio) -> dict[str, Any]:
    """Connect every phone and wait until every queued message is reported sent and acked."""
    radio.target = len(guids)
    ws_url = device_ws_url(url)
    phones = [Phone(ws_url, token, radio) for token in tokens]
    started = time.perf_counter()
    await asyncio.gather(*(phone.connect() for phone in phones))
    connected = time.perf_counter()
    await asyncio.wait_for(radio.reached.wait(), timeout=max(120, len(guids) / 50))
    elapsed = radio.last_ack - started
    missing = set(guids) - set(radio.arrivals)
    if missing or radio.repeats:
        raise RuntimeError(f"drain: {len(missing)} never arrived, {radio.repeats} repeated")
    return {
        "phones": phones,
        "result": {
            "messages": len(guids),
            "seconds": round(elapsed, 3),
            "messages_per_second": round(len(guids) / elapsed, 1),
            "all_connected_after_s": round(connected - started, 3),
            "first_send_after_s": round(radio.first_send - started, 3),
        },
    }


async def verify_sample(url: str, api_key: str, guids: list[str], size: int = 20) -> None:
    """A few messages, checked in the sent log: the acks did mean ``sent``."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for guid in random.sample(guids, min(size, len(guids))):
            response = await http.get(
                "/log/sent/sms/", params={"apikey": api_key, "guid_message": guid}
            )
            status = response.json()["result"]["sms"][0]["status"]
            if status != "sent":
                raise RuntimeError(f"{guid} is {status!r} in the sent log, not 'sent'")


async def idle_baseline(url: str, count: int = 200) -> list[float]:
    """404 round trips one after another on one connection, with nothing else going on."""
    samples = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for _ in range(20):
            await http.get("/no-such-path")
        for _ in range(count):
            started = time.perf_counter()
            await http.get("/no-such-path")
            samples.append(time.perf_counter() - started)
    return samples


async def live(url: str, api_key: str, count: int, rate: float, radio: Radio) -> dict[str, Any]:
    """``count`` single-recipient sends started every ``1/rate`` s, whatever the answers do
    (an open loop: a slow server makes latencies grow, not the offered rate fall); every
    fourth tick also starts a 404 request, the baseline under the same load."""
    starts: dict[str, float] = {}
    answers: list[float] = []
    baseline: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def send(index: int) -> None:
            started = time.perf_counter()
            response = await http.post(
                "/sendsms/",
                data={
                    "apikey": api_key,
                    "recipients": f"+32471{index:06d}",
                    "message": f"live {index}",
                },
            )
            answers.append(time.perf_counter() - started)
            response.raise_for_status()
            starts[response.json()["result"]["id"]] = started

        async def not_found() -> None:
            started = time.perf_counter()
            await http.get("/no-such-path")
            baseline.append(time.perf_counter() - started)

        for _ in range(20):
            await http.get("/no-such-path")  # warm the connections
        began = time.perf_counter()
        loop = asyncio.get_running_loop()
        for index in range(count):
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(send(index)))
            if index % 4 == 0:
                tasks.append(loop.create_task(not_found()))
        await asyncio.gather(*tasks)
        offered = time.perf_counter() - began
    radio.waiting_for = {guid for guid in starts if guid not in radio.arrivals}
    if radio.waiting_for:
        radio.arrived.clear()
        await asyncio.wait_for(radio.arrived.wait(), timeout=60)
    latencies = [radio.arrivals[guid] - started for guid, started in starts.items()]
    return {
        "messages": count,
        "repeated_send_frames_so_far": radio.repeats,
        "offered_rate_per_s": rate,
        "achieved_rate_per_s": round(count / offered, 1),
        "sendsms_response": summary(answers),
        "baseline_404_under_load": summary(baseline),
        "accept_to_phone": summary(latencies),
    }


async def run(
    url: str, api_key: str, tokens: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    radio = Radio()
    throughput_404 = await not_found_throughput(url)
    guids, accept_rate = await fill(url, api_key, args.messages)
    drained = await drain(url, tokens, guids, radio)
    await verify_sample(url, api_key, guids)
    idle = await idle_baseline(url)
    live_result = await live(url, api_key, args.live_messages, args.rate, radio)
    for phone in drained["phones"]:
        await phone.close()
    result = drained["result"]
    live_p50 = live_result["accept_to_phone"]["p50_ms"]
    return {
        "baseline_404_per_second": round(throughput_404, 1),
        "fill": {"messages": args.messages, "accepted_per_second": round(accept_rate, 1)},
        "drain": result,
        "ratio_drain_to_404_throughput": round(result["messages_per_second"] / throughput_404, 2),
        "baseline_404_idle": summary(idle),
        "live": live_result,
        "ratio_live_p50_to_idle_404_p50": round(live_p50 / percentile(idle, 0.5), 2),
        "ratio_live_p50_to_loaded_404_p50": round(
            live_p50 / live_result["baseline_404_under_load"]["p50_ms"], 2
        ),
    }


def bench(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    with fresh_database(engine, args.pg_url) as database_url:
        api_key, tokens = pair(database_url, args.phones)
        profile = f"{args.profile_server}.{engine}" if args.profile_server else None
        with server(database_url, profile) as url:
            return asyncio.run(run(url, api_key, tokens, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--messages", type=int, default=50_000, help="queued, then drained")
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--live-messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="live sends per second")
    parser.add_argument("--pg-url", default=os.environ.get("SIMGATE_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--profile-server", metavar="FILE", default=None)
    args = parser.parse_args()
    engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
    result: dict[str, Any] = {engine: bench(engine, args) for engine in engines}
    result["command"] = (
        f"benchmarks/dispatch.py --engine {args.engine} --messages {args.messages} "
        f"--phones {args.phones} --live-messages {args.live_messages} --rate {args.rate:g}"
    )
    print(json.dumps(result))
    print()
    for engine in engines:
        row = result[engine]
        live_row = row["live"]
        print(f"{engine}: {args.messages} messages drained to {args.phones} phones")
        print(f"  {'404 throughput (baseline)':<34}{row['baseline_404_per_second']:>10} req/s")
        print(
            f"  {'accept (fill, 1000/request)':<34}{row['fill']['accepted_per_second']:>10} msg/s"
        )
        print(f"  {'drain':<34}{row['drain']['messages_per_second']:>10} msg/s")
        print(f"  {'drain / 404 throughput':<34}{row['ratio_drain_to_404_throughput']:>10}x")
        print(f"  {'live measure':<34}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
        for label, key in (
            ("404 round trip, idle", None),
            ("404 round trip, under load", "baseline_404_under_load"),
            ("/sendsms/ response", "sendsms_response"),
            ("request start -> send frame", "accept_to_phone"),
        ):
            cells = row["baseline_404_idle"] if key is None else live_row[key]
            print(f"  {label:<34}{cells['p50_ms']:>10}{cells['p99_ms']:>10}{cells['max_ms']:>10}")
        print(f"  {'live p50 / idle 404 p50':<34}{row['ratio_live_p50_to_idle_404_p50']:>10}x")


if __name__ == "__main__":
    main()
