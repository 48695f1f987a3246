"""What the credential checks and rate limits cost on the accept path, side by side in one run.

Two ``simgate serve`` processes on fresh SQLite files, identical but for access settings:

* **without**: no credential cache (``SIMGATE_AUTH_CACHE_SECONDS=0``: one store lookup of the
  key per request, as before issue 11) and no rate limits (both set to 0);
* **with**: the shipped defaults (5 s credential cache, failed-authentication limit per
  address) and the per-key limit on, raised to 1,000,000/s so that it counts every request
  but never refuses one (the load comes from one key; a refused request would measure the
  429 path instead).

Single-recipient ``POST /sendsms/`` requests (form body) from concurrent clients, in rounds that
alternate between the two servers (ABAB…) so that machine noise hits both alike. No phone is
connected: the messages stay queued, only accepting is measured.

    .venv/bin/python benchmarks/access_cost.py [--requests 2000] [--clients 8] [--rounds 6]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _support import free_port

CONFIGS = {
    "without": {
        "SIMGATE_AUTH_CACHE_SECONDS": "0",
        "SIMGATE_API_RATE_PER_SECOND": "0",
        "SIMGATE_AUTH_FAILURES_PER_MINUTE": "0",
    },
    "with": {"SIMGATE_API_RATE_PER_SECOND": "1000000", "SIMGATE_API_RATE_BURST": "1000000"},
}


SIMGATE = (sys.executable, "-m", "simgate")


def start(tmp: Path, name: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / (name + '.db')}",
        "SIMGATE_LOG_LEVEL": "warning",
        "SIMGATE_PASSWORD_HASH_COST": "test",
        "SIMGATE_PASSWORD": "bench-password",
        **extra,
    }
    made = subprocess.run(
        [*SIMGATE, "account", "create", "--email", "b@example.test", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    api_key = json.loads(made.stdout)["api_key"]
    port = free_port()
    server = subprocess.Popen([*SIMGATE, "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/no-such-path", timeout=1)
            return server, url, api_key
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                server.terminate()
                raise
            time.sleep(0.1)


async def round_of(
    url: str, api_key: str, requests: int, clients: int
) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies) of one round."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        for n in remaining:
            started = time.perf_counter()
            response = await http.post(
                "/sendsms/",
                data={"apikey": api_key, "recipients": "+15551234567", "message": f"m{n}"},
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text}")

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        for _ in range(20):  # warm-up: connections, the credential cache, lazy imports
            await http.get("/no-such-path")
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6, help="per server, alternating")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    latencies: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {name: start(Path(tmp), name, extra) for name, extra in CONFIGS.items()}
        try:
            for _ in range(args.rounds):
                for name, (_process, url, api_key) in servers.items():
                    rate, samples = asyncio.run(round_of(url, api_key, args.requests, args.clients))
                    rates[name].append(rate)
                    latencies[name].extend(samples)
        finally:
            for process, _url, _key in servers.values():
                process.terminate()
                process.wait(timeout=20)
    result: dict[str, object] = {
        "command": f"benchmarks/access_cost.py --requests {args.requests} --clients {args.clients}"
        f" --rounds {args.rounds}",
    }
    for name in CONFIGS:
        ordered = sorted(latencies[name])
        result[name] = {
            "median_rate_per_s": round(statistics.median(rates[name]), 1),
            "rates_per_s": [round(rate, 1) for rate in rates[name]],
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        }
    with_rate = statistics.median(rates["with"])
    without_rate = statistics.median(rates["without"])
    result["with_over_without_rate"] = round(with_rate / without_rate, 3)
    print(json.dumps(result))
    print()
    print(f"{'access checks':<16}{'median req/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
    for name in CONFIGS:
        row = result[name]
        if not isinstance(row, dict):
            raise TypeError(name)
        print(f"{name:<16}{row['median_rate_per_s']:>14}{row['p50_ms']:>10}{row['p99_ms']:>10}")
    print(f"with / without (median rate): {result['with_over_without_rate']}x")


if __name__ == "__main__":
    main()
