"""Accept → phone latency with 100 simulated phones in one ``simgate agent`` process.

Starts ``simgate serve`` on a fresh SQLite file, pairs ``--phones`` devices with ``simgate
device add --count N --json`` and connects them all with ONE real ``simgate agent --driver
simulator --tokens-file … --outbox-file …`` process. Then sends ``--messages`` single-recipient
messages one at a time (``POST /sendsms/``, no SID: the router picks a phone) and measures, per
message, from the start of the HTTP request to:

* **line seen**: the message's line appearing in the agent's outbox file, read by this script
  polling the file every 0.2 ms (overestimates by up to that much);
* **answered**: the ``/sendsms/`` answer (what the accept alone costs, before the dispatch);
* **at**: the ``at`` the simulated phone wrote in that line (its wall clock, truncated to the
  millisecond, so it underestimates by up to 1 ms), minus the wall-clock request start.

The full path: HTTP parse, API key, store + commit, dispatcher claim, ``send`` frame over the
WebSocket, the agent's GUID record, the simulator's ``transmit`` (no delay), the line written.
Baseline, same run, interleaved: the round trip of a request the server answers without the
store (an unknown path, 404) on the same HTTP connection.

    .venv/bin/python benchmarks/latency.py [--phones 100] [--messages 500]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _support import OutboxReader, free_port

SIMGATE = [sys.executable, "-m", "simgate"]
TARGET_P50_MS = 5.0
TARGET_P99_MS = 25.0
POLL_SECONDS = 0.0002
_CONNECTED = re.compile(rb"(\d+)/(\d+) phones connected")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000

    return {
        "p50_ms": round(pick(0.50), 3),
        "p99_ms": round(pick(0.99), 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


async def wait_line(reader: OutboxReader, guid: str) -> dict[str, Any]:
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        for line in reader.new_lines():
            if line["guid"] == guid:
                return line
        await asyncio.sleep(POLL_SECONDS)
    raise RuntimeError(f"{guid} never reached the outbox file")


async def measure(url: str, api_key: str, outbox: Path, count: int) -> dict[str, Any]:
    reader = OutboxReader(outbox)
    seen: list[float] = []
    stamped: list[float] = []
    baseline: list[float] = []
    answered: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:

        async def send(text: str) -> tuple[float, float, str]:
            wall, started = time.time(), time.perf_counter()
            response = await http.post(
                "/sendsms/",
                data={"apikey": api_key, "recipients": "+32470123456", "message": text},
            )
            response.raise_for_status()
            answered.append(time.perf_counter() - started)
            return wall, started, str(response.json()["result"]["id"])

        for n in range(20):  # warm-up: connections, caches, lazy imports
            await http.get("/no-such-path")
            *_, guid = await send(f"warm-up {n}")
            await wait_line(reader, guid)
        answered.clear()  # the warm-up's answers are not measured
        for n in range(count):
            started = time.perf_counter()
            await http.get("/no-such-path")
            baseline.append(time.perf_counter() - started)
            wall, started, guid = await send(f"message {n}")
            line = await wait_line(reader, guid)
            seen.append(time.perf_counter() - started)
            at = datetime.fromisoformat(line["at"].replace("Z", "+00:00")).timestamp()
            stamped.append(max(0.0, at - wall))
    base = percentiles(baseline)
    line_seen = percentiles(seen)
    return {
        "messages": count,
        "baseline_404_roundtrip": base,
        "accept_answered": percentiles(answered),
        "accept_to_line_seen": line_seen,
        "accept_to_phone_at": percentiles(stamped),
        "ratio_p50_vs_404": round(line_seen["p50_ms"] / base["p50_ms"], 2),
        "ratio_p99_vs_404": round(line_seen["p99_ms"] / base["p99_ms"], 2),
        "targets": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        "p50_met": line_seen["p50_ms"] <= TARGET_P50_MS,
        "p99_met": line_seen["p99_ms"] <= TARGET_P99_MS,
    }


def wait_connected(log: Path, phones: int, agent: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = _CONNECTED.findall(log.read_bytes()) if log.exists() else []
        if found and int(found[-1][0]) == phones:
            return
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited: {log.read_text()}")
        time.sleep(0.2)
    raise RuntimeError("the phones did not all connect")


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="simgate-latency-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "SIMGATE_PORT": str(port),
        "SIMGATE_PUBLIC_BASE_URL": url,
        "SIMGATE_PASSWORD_HASH_COST": "test",
        "SIMGATE_LOG_LEVEL": "warning",
        # One key carries the whole load: the per-key rate limit would measure 429s.
        "SIMGATE_API_RATE_PER_SECOND": "0",
    }
    env.pop("SIMGATE_DEVICE_TOKEN", None)

    def cli(*argv: str) -> Any:
        out = subprocess.run(
            [*SIMGATE, *argv], env=env, capture_output=True, text=True, check=True, timeout=120
        )
        return json.loads(out.stdout)

    email = "bench@example.test"
    api_key = cli("account", "create", "--email", email, "--password", "bench-pass-1", "--json")
    count = ["--count", str(args.phones), "--json"]
    paired = cli("device", "add", "--account", email, "--label", "phone", *count)
    tokens_file = folder / "tokens.txt"
    tokens_file.write_text("\n".join(item["token"] for item in paired) + "\n")
    outbox = folder / "outbox.jsonl"
    server = subprocess.Popen([*SIMGATE, "serve"], env=env)
    agent: subprocess.Popen[bytes] | None = None
    log = folder / "agent.log"
    try:
        time.sleep(1)
        with log.open("wb") as stderr:
            agent = subprocess.Popen(
                [
                    *SIMGATE,
                    "agent",
                    "--server",
                    url,
                    "--driver",
                    "simulator",
                    "--tokens-file",
                    str(tokens_file),
                    "--outbox-file",
                    str(outbox),
                    "--transport",
                    "websocket",
                    "--log-level",
                    "warning",
                ],
                env=env,
                stderr=stderr,
            )
        wait_connected(log, args.phones, agent)
        result = asyncio.run(measure(url, api_key["api_key"], outbox, args.messages))
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGINT)
            agent.wait(60)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    return {"phones": args.phones, "agent_processes": 1, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100)
    parser.add_argument("--messages", type=int, default=500)
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    rows = [
        ("baseline: 404 round trip", result["baseline_404_roundtrip"]),
        ("request start -> 200 answer", result["accept_answered"]),
        ("request start -> outbox line seen", result["accept_to_line_seen"]),
        ("request start -> phone's 'at'", result["accept_to_phone_at"]),
    ]
    print(f"{'measure':<36}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in rows:
        print(f"{name:<36}{values['p50_ms']:>10}{values['p99_ms']:>10}{values['max_ms']:>10}")
    print(
        f"ratio to the 404 baseline: p50 {result['ratio_p50_vs_404']}x, "
        f"p99 {result['ratio_p99_vs_404']}x"
    )


if __name__ == "__main__":
    main()
