"""How fast an accepted message reaches a connected device, against a same-run baseline.

Starts ``simgate serve`` on a fresh SQLite file, connects one minimal protocol-speaking device
over a real WebSocket, then measures, per message, the time from the start of the
``/sendsms/`` request to the arrival of the ``send`` frame at the device. The baseline is the
round trip of a request the server answers without touching the store (an unknown path, 404),
measured in the same run on the same connection, so the ratio is meaningful on a noisy machine.

    .venv/bin/python benchmarks/push_latency.py [--messages 300]

Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from _support import cli, serving


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


async def measure(url: str, api_key: str, token: str, count: int) -> dict[str, object]:
    arrivals: dict[str, float] = {}
    arrived = asyncio.Event()
    expected = {"n": 0}
    ws_url = url.replace("http://", "ws://") + "/device/ws"
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send(
            json.dumps({"type": "hello", "protocol": 1, "sims": [1], "capabilities": ["sms"]})
        )
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise RuntimeError(f"expected a welcome frame, got {welcome}")

        async def device() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "send":
                    arrivals[frame["guid"]] = time.perf_counter()
                    await ws.send(json.dumps({"type": "accepted", "guid": frame["guid"]}))
                    await ws.send(
                        json.dumps(
                            {
                                "type": "sent",
                                "id": "f" + frame["guid"],
                                "guid": frame["guid"],
                                "sim": 1,
                                "at": int(time.time() * 1000),
                            }
                        )
                    )
                    if len(arrivals) >= expected["n"]:
                        arrived.set()

        reader = asyncio.create_task(device())
        latencies: list[float] = []
        baseline: list[float] = []
        accept: list[float] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for _ in range(20):  # warm-up: connections, caches, JIT-less but lazy imports
                await http.get("/no-such-path")
            for i in range(count):
                started = time.perf_counter()
                await http.get("/no-such-path")
                baseline.append(time.perf_counter() - started)

                expected["n"] = len(arrivals) + 1
                arrived.clear()
                started = time.perf_counter()
                response = await http.post(
                    "/sendsms/",
                    data={"apikey": api_key, "recipients": "+15551234567", "message": f"m{i}"},
                )
                accept.append(time.perf_counter() - started)
                guid = response.json()["result"]["id"]
                await asyncio.wait_for(arrived.wait(), timeout=10)
                latencies.append(arrivals[guid] - started)
        reader.cancel()
    return {
        "messages": count,
        "baseline_404_roundtrip": summary(baseline),
        "sendsms_response": summary(accept),
        "send_to_device_arrival": summary(latencies),
        "ratio_arrival_to_baseline_median": round(
            statistics.median(latencies) / statistics.median(baseline), 2
        ),
        "ratio_accept_to_baseline_median": round(
            statistics.median(accept) / statistics.median(baseline), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            "SIMGATE_LOG_LEVEL": "warning",
            # One message after the other as fast as the server answers: a latency measure,
            # not a client the per-key limit (benchmarks/accept.py measures its cost) is for.
            "SIMGATE_API_RATE_PER_SECOND": "0",
        }
        account = cli(
            env,
            "account",
            "create",
            "--email",
            "bench@example.test",
            "--password",
            "bench-password",
        )
        device = cli(env, "device", "add", "--account", "bench@example.test")
        with serving(env) as url:
            result = asyncio.run(measure(url, account["api_key"], device["token"], args.messages))
    result["command"] = f"benchmarks/push_latency.py --messages {args.messages}"
    print(json.dumps(result))
    print()
    print(f"{'measure':<28}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}")
    for key in ("baseline_404_roundtrip", "sendsms_response", "send_to_device_arrival"):
        row = result[key]
        if not isinstance(row, dict):
            raise TypeError(key)
        print(f"{key:<28}{row['median_ms']:>12}{row['p95_ms']:>10}{row['max_ms']:>10}")
    print(f"arrival / baseline (median): {result['ratio_arrival_to_baseline_median']}x")


if __name__ == "__main__":
    main()
