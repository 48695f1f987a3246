"""How fast ``/sendsms/`` accepts, durably, against a bare route on the same stack; then kill -9.

Two servers on the same uvicorn configuration (``simgate.serving.server_config``: httptools,
uvloop, simgate's timeouts), started as separate processes:

* **sendsms**: ``simgate serve`` on a fresh SQLite file (WAL), one account, no phone connected
  (messages stay queued: accepting is what is measured), the per-key rate limit off because one
  key carries the whole load;
* **bare**: a FastAPI app with one route that answers a constant JSON body, nothing stored.

Load: ``wrk -t2 -c64`` (Debian's ``wrk``; an asyncio client with 64 connections when it is
missing, which then limits the bare route itself), single-recipient ``GET /sendsms/?...`` vs
``GET /bare``, in rounds that alternate between the two so machine noise hits both alike.
Reported: requests/s, p50/p99 latency, and the ratio sendsms / bare (median of rounds).

Then **kill -9**: 16 clients send for ``--kill-after`` seconds, the server is killed with
SIGKILL, and the database file is read: every GUID that was answered 200 must be stored.

    .venv/bin/python benchmarks/accept.py [--seconds 10] [--rounds 3] [--kill-after 3]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from _support import free_port, wait_answering
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from simgate.config import Settings
from simgate.serving import Server, server_config

SIMGATE = (sys.executable, "-m", "simgate")
CONNECTIONS = 64
KILL_CLIENTS = 16


def serve_bare(port: int) -> None:
    """The baseline server: simgate's uvicorn configuration around a one-route FastAPI app."""
    app = FastAPI()
    body = {"result": {"error": 0, "sent": "1"}}

    @app.get("/bare")
    async def bare() -> ORJSONResponse:
        return ORJSONResponse(body)

    settings = Settings(host="127.0.0.1", port=port)  # type: ignore[call-arg]
    Server(server_config(app, settings, lifespan="off")).run()


def start_simgate(db: Path) -> tuple[subprocess.Popen[bytes], str, str, dict[str, str]]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_PASSWORD_HASH_COST": "test",
        "SIMGATE_PASSWORD": "bench-password",
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    if not db.exists():
        made = subprocess.run(
            [*SIMGATE, "account", "create", "--email", "b@example.test", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        env["BENCH_API_KEY"] = json.loads(made.stdout)["api_key"]
    port = free_port()
    process = subprocess.Popen([*SIMGATE, "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    wait_answering(url, process, seconds=30)
    return process, url, env["BENCH_API_KEY"], env


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_answering(url, process, seconds=30)
    return process, url


# ------------------------------------------------------------------------------ load

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, seconds: int) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate_per_s": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


async def python_load(url: str, seconds: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def client() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await http.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                failures += response.status_code != 200

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "rate_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1],
        "non_2xx": float(failures),
        "socket_errors": 0.0,
    }


def load(url: str, seconds: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, seconds)
    return asyncio.run(python_load(url, seconds))


# ------------------------------------------------------------------------------ kill -9


async def send_until_killed(
    url: str, api_key: str, process: subprocess.Popen[bytes], after: float
) -> list[str]:
    answered: list[str] = []
    stop = asyncio.Event()

    async def client(http: httpx.AsyncClient, n: int) -> None:
        index = 0
        while not stop.is_set():
            index += 1
            try:
                response = await http.post(
                    "/sendsms/",
                    data={
                        "apikey": api_key,
                        "recipients": "+15551234567",
                        "message": f"k{n}-{index}",
                    },
                )
            except httpx.HTTPError:
                return  # the server is gone: what it answered before is what counts
            if response.status_code == 200:
                answered.append(str(response.json()["result"]["id"]))

    async def killer() -> None:
        await asyncio.sleep(after)
        process.send_signal(signal.SIGKILL)
        stop.set()

    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await asyncio.gather(killer(), *(client(http, n) for n in range(KILL_CLIENTS)))
    process.wait(timeout=10)
    return answered


def stored_guids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT guid FROM messages")}


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kill-after", type=float, default=3.0)
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "sendsms": []}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "accept.db"
        simgate, simgate_url, api_key, _env = start_simgate(db)
        bare, bare_url = start_bare()
        query = urlencode({"apikey": api_key, "recipients": "+15551234567", "message": "bench"})
        urls = {"bare": f"{bare_url}/bare", "sendsms": f"{simgate_url}/sendsms/?{query}"}
        try:
            for target in urls.values():  # warm-up: connections, caches, lazy imports
                load(target, 1)
            for _ in range(args.rounds):
                for name, target in urls.items():
                    runs[name].append(load(target, args.seconds))
        finally:
            bare.terminate()
            bare.wait(timeout=20)
        answered = asyncio.run(send_until_killed(simgate_url, api_key, simgate, args.kill_after))
        stored = stored_guids(db)
    lost = sorted(set(answered) - stored)
    result: dict[str, Any] = {
        "command": f"benchmarks/accept.py --seconds {args.seconds} --rounds {args.rounds}"
        f" --kill-after {args.kill_after}",
        "load": "wrk -t2 -c64" if shutil.which("wrk") else "asyncio httpx client, 64 connections",
    }
    for name, rounds in runs.items():
        result[name] = {
            "median_rate_per_s": round(statistics.median(r["rate_per_s"] for r in rounds), 1),
            "rates_per_s": [round(r["rate_per_s"], 1) for r in rounds],
            "p50_ms": round(statistics.median(r["p50_ms"] for r in rounds), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in rounds), 2),
            "non_2xx": int(sum(r["non_2xx"] for r in rounds)),
        }
    result["ratio_sendsms_to_bare"] = round(
        result["sendsms"]["median_rate_per_s"] / result["bare"]["median_rate_per_s"], 3
    )
    result["kill9"] = {
        "answered_200": len(answered),
        "stored": len(set(answered) & stored),
        "lost": len(lost),
    }
    print(json.dumps(result))
    print()
    print(f"{'route':<10}{'median req/s':>14}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name in runs:
        row = result[name]
        print(
            f"{name:<10}{row['median_rate_per_s']:>14}{row['p50_ms']:>10}{row['p99_ms']:>10}"
            f"{row['non_2xx']:>9}"
        )
    print(f"sendsms / bare: {result['ratio_sendsms_to_bare']}x (target 0.40)")
    kill = result["kill9"]
    answered_200, kept, gone = kill["answered_200"], kill["stored"], kill["lost"]
    print(f"kill -9: {answered_200} answered 200, {kept} stored, {gone} lost")


if __name__ == "__main__":
    main()
