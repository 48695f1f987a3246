"""Scale-out on PostgreSQL: accept throughput with 1, 2 and 3 server processes, and the
accept → phone latency of a message that crosses processes.

**Throughput.** Three ``simgate serve`` processes on a fresh PostgreSQL database (started at
once: the first migrates, the others wait on the advisory lock), one account, no phone
connected (messages stay queued: accepting is what is measured). For each N, the load goes to
the first N servers (the others idle): N ``wrk`` processes, one per server, sharing
``--connections`` between them (round-robin by construction: each server gets the same share),
single-recipient ``GET /sendsms/?…``, for ``--seconds``; ``--rounds`` rounds rotate the order of
the Ns. Reported per N: the median of requests/s (the sum over servers), of p50/p99 (the
slowest server's), of the CPU time the server processes spent per request (from /proc: less
sensitive to the machine's other load than the rate), and the ratio to N = 1 measured in the
same run.

**Latency.** Two servers A and B on one fresh database; ``--phones`` phones in one ``simgate
agent --driver simulator --tokens-file`` process connected to B. Messages are sent one at a
time, alternately to B (same process as the phones: the baseline) and to A (the message must
cross: A commits, NOTIFYs, B's listener wakes B's dispatcher), and measured from the start of
the HTTP request to the ``at`` the phone wrote in its outbox line (one host, one clock).
Reported: p50, p95, p99 and max of each, and their ratio.

    .venv/bin/python benchmarks/scale.py [--processes 1,2,3] [--seconds 8] [--messages 400]

PostgreSQL from ``SIMGATE_BENCH_PG_URL`` (default: the test server, postgres@127.0.0.1/test);
each part creates its database and drops it at the end. ``SIMGATE_API_RATE_PER_SECOND=0``: one
key carries the whole load. Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from _support import OutboxReader, cli, free_port

SIMGATE = [sys.executable, "-m", "simgate"]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 100.0
_CONNECTED = re.compile(rb"(\d+)/(\d+) phones connected")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


# ------------------------------------------------------------------------------ databases


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(base: str, statement: str) -> None:
    conn = await asyncpg.connect(_plain(base))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(base: str, name: str) -> Iterator[str]:
    """An empty database for one part of the run, dropped afterwards."""
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ------------------------------------------------------------------------------ servers


class Servers:
    """``simgate serve`` processes on one database, each on its own port."""

    def __init__(self, database_url: str, count: int, logs: Path) -> None:
        self.env = {
            **os.environ,
            "SIMGATE_DATABASE_URL": database_url,
            "SIMGATE_LOG_LEVEL": "warning",
            "SIMGATE_ACCESS_LOG": "0",
            "SIMGATE_PASSWORD_HASH_COST": "test",
            "SIMGATE_PASSWORD": "bench-password",
            "SIMGATE_API_RATE_PER_SECOND": "0",
        }
        self.ports = [free_port() for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self._logs = [(logs / f"server{i}.log").open("ab") for i in range(count)]
        self.processes = [
            subprocess.Popen(
                [*SIMGATE, "serve", "--port", str(port)], env=self.env, stdout=log, stderr=log
            )
            for port, log in zip(self.ports, self._logs, strict=True)
        ]
        deadline = time.monotonic() + 60
        while not all(_up(url) for url in self.urls):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"servers did not start: see {logs}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()

    def cpu_seconds(self) -> float:
        """CPU time the server processes have used so far (user + system, from /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# ------------------------------------------------------------------------------ throughput


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _wrk_figures(out: str) -> dict[str, float]:
    def field(pattern: str) -> str:
        found = re.search(pattern, out)
        if found is None:
            raise ValueError(f"wrk printed no {pattern!r}:\n{out}")
        return found.group(1)

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rate_per_s": float(field(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": _ms(field(r"\s50%\s+(\S+)")),
        "p99_ms": _ms(field(r"\s99%\s+(\S+)")),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def accept_load(urls: list[str], api_key: str, seconds: int, connections: int) -> dict[str, Any]:
    """One ``wrk`` per server, all at once, ``connections`` shared between them."""
    query = urlencode({"apikey": api_key, "recipients": "+15551234567", "message": "scale"})
    share = max(1, connections // len(urls))
    runs = [
        subprocess.Popen(
            ["wrk", "-t1", f"-c{share}", f"-d{seconds}s", "--latency", f"{url}/sendsms/?{query}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    figures = []
    for run in runs:
        out, err = run.communicate(timeout=seconds + 60)
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed: {err}")
        figures.append(_wrk_figures(out))
    return {
        "rate_per_s": round(sum(f["rate_per_s"] for f in figures), 1),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "non_2xx": sum(f["non_2xx"] for f in figures),
        "per_server_rate": [f["rate_per_s"] for f in figures],
    }


def throughput(
    base: str, counts: list[int], seconds: int, connections: int, rounds: int
) -> dict[str, Any]:
    """Requests/s with the load on the first N servers, for each N of ``counts``, in rounds
    that rotate the order (so the machine's other load hits every N alike); medians."""
    name = f"simgate_bench_scale_{os.getpid()}_accept"
    runs: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    with fresh_database(base, name) as url, tempfile.TemporaryDirectory() as logs:
        servers = Servers(url, max(counts), Path(logs))
        try:
            account = cli(servers.env, "account", "create", "--email", "b@example.test")
            key = account["api_key"]
            accept_load(servers.urls, key, 2, connections)  # warm-up: every server
            for round_ in range(rounds):
                order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
                for count in order:
                    cpu = servers.cpu_seconds()
                    figures = accept_load(servers.urls[:count], key, seconds, connections)
                    served = figures["rate_per_s"] * seconds
                    used = servers.cpu_seconds() - cpu
                    figures["server_cpu_ms_per_request"] = used * 1000 / served if served else 0
                    runs[count].append(figures)
        finally:
            servers.stop()
    results: dict[str, Any] = {}
    for count, figures in runs.items():
        results[str(count)] = {
            "rate_per_s": statistics.median(f["rate_per_s"] for f in figures),
            "p50_ms": statistics.median(f["p50_ms"] for f in figures),
            "p99_ms": statistics.median(f["p99_ms"] for f in figures),
            "non_2xx": sum(f["non_2xx"] for f in figures),
            "server_cpu_ms_per_request": round(
                statistics.median(f["server_cpu_ms_per_request"] for f in figures), 3
            ),
            "rounds_rate_per_s": [f["rate_per_s"] for f in figures],
        }
    one = results[str(counts[0])]["rate_per_s"]
    for figures in results.values():
        figures["ratio_vs_first"] = round(figures["rate_per_s"] / one, 2) if one else None
    return results


# ------------------------------------------------------------------------------ latency


async def _transmitted(reader: OutboxReader, guid: str) -> float:
    deadline = time.monotonic() + 70  # past the 60 s safety tick: a lost wake-up shows
    while time.monotonic() < deadline:
        for line in reader.new_lines():
            if line["guid"] == guid:
                return datetime.fromisoformat(line["at"].replace("Z", "+00:00")).timestamp()
        await asyncio.sleep(0.0005)
    raise RuntimeError(f"{guid} never reached the outbox file")


def distribution(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000, 2)

    return {
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def _measure(
    a_url: str, b_url: str, api_key: str, outbox: Path, count: int
) -> dict[str, list[float]]:
    reader = OutboxReader(outbox)
    spent: dict[str, list[float]] = {"same_process": [], "cross_process": []}
    async with httpx.AsyncClient(timeout=10) as http:

        async def one(url: str, text: str) -> float:
            started = time.time()
            response = await http.post(
                f"{url}/sendsms/",
                data={"apikey": api_key, "recipients": "+32470123456", "message": text},
            )
            response.raise_for_status()
            at = await _transmitted(reader, str(response.json()["result"]["id"]))
            return max(0.0, at - started)

        for n in range(20):  # warm-up: connections, caches, lazy imports, on both servers
            await one(a_url if n % 2 else b_url, f"warm-up {n}")
        for n in range(count):
            if n % 2:
                spent["cross_process"].append(await one(a_url, f"across {n}"))
            else:
                spent["same_process"].append(await one(b_url, f"same {n}"))
    return spent


def latency(base: str, phones: int, messages: int) -> dict[str, Any]:
    name = f"simgate_bench_scale_{os.getpid()}_latency"
    with fresh_database(base, name) as url, tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        servers = Servers(url, 2, root)
        agent = None
        try:
            env = servers.env
            email = "l@example.test"
            account = cli(env, "account", "create", "--email", email)
            tokens = cli(env, "device", "add", "--account", email, "--count", str(phones))
            (root / "tokens.txt").write_text("\n".join(item["token"] for item in tokens) + "\n")
            outbox = root / "outbox.jsonl"
            log = root / "agent.log"
            with log.open("ab") as sink:
                agent = subprocess.Popen(
                    [
                        *SIMGATE,
                        "agent",
                        "--server",
                        servers.urls[1],
                        "--driver",
                        "simulator",
                        "--tokens-file",
                        str(root / "tokens.txt"),
                        "--outbox-file",
                        str(outbox),
                        "--log-level",
                        "info",
                    ],
                    env=env,
                    stdout=sink,
                    stderr=sink,
                )
            deadline = time.monotonic() + 60
            everyone = (str(phones).encode(), str(phones).encode())
            while everyone not in _CONNECTED.findall(log.read_bytes() if log.exists() else b""):
                if time.monotonic() > deadline:
                    raise RuntimeError("the phones did not connect")
                time.sleep(0.1)
            spent = asyncio.run(
                _measure(servers.urls[0], servers.urls[1], account["api_key"], outbox, messages)
            )
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(timeout=30)
            servers.stop()
    same = distribution(spent["same_process"])
    cross = distribution(spent["cross_process"])
    return {
        "phones": phones,
        "messages_each": len(spent["same_process"]),
        "same_process": same,
        "cross_process": cross,
        "ratio_p50": round(cross["p50_ms"] / same["p50_ms"], 2) if same["p50_ms"] else None,
        "ratio_p99": round(cross["p99_ms"] / same["p99_ms"], 2) if same["p99_ms"] else None,
        "target_p99_ms": TARGET_P99_MS,
        "p99_met": cross["p99_ms"] < TARGET_P99_MS,
    }


# ------------------------------------------------------------------------------ report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--processes", default="1,2,3", help="comma-separated process counts")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=48)
    parser.add_argument("--phones", type=int, default=10)
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the throughput part (apt-get install wrk)")
    base = os.environ.get("SIMGATE_BENCH_PG_URL", DEFAULT_PG)
    counts = [int(part) for part in args.processes.split(",")]
    report = {
        "load": (
            f"wrk -t1 per loaded server, {args.connections} connections shared, "
            f"{args.seconds} s, {args.rounds} rounds (medians)"
        ),
        "throughput": throughput(base, counts, args.seconds, args.connections, args.rounds),
        "latency": latency(base, args.phones, args.messages),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    print()
    print(
        f"{'processes':>9}  {'req/s':>9}  {'ratio':>6}  {'p50 ms':>8}  {'p99 ms':>8}"
        f"  {'CPU ms/req':>10}"
    )
    for count, figures in report["throughput"].items():
        print(
            f"{count:>9}  {figures['rate_per_s']:>9.1f}  {figures['ratio_vs_first']:>6}"
            f"  {figures['p50_ms']:>8.2f}  {figures['p99_ms']:>8.2f}"
            f"  {figures['server_cpu_ms_per_request']:>10.3f}"
        )
    print()
    print(f"{'accept -> phone':>16}  {'p50':>7}  {'p95':>7}  {'p99':>7}  {'max':>7}  (ms)")
    for name in ("same_process", "cross_process"):
        row = report["latency"][name]
        print(
            f"{name:>16}  {row['p50_ms']:>7.2f}  {row['p95_ms']:>7.2f}  {row['p99_ms']:>7.2f}"
            f"  {row['max_ms']:>7.2f}"
        )


if __name__ == "__main__":
    main()
