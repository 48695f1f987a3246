"""Inbound SMS from simulated devices to the webhook POST received, at a fixed event rate.

Starts ``simgate serve`` on a fresh SQLite file with one V2 webhook endpoint pointing at a
receiver in this process (loopback), connects ``--devices`` minimal protocol-speaking devices
over real WebSockets, and has them report ``received`` frames at ``--rate`` events per second in
total for ``--seconds``. Per event: the time from the frame leaving the device to the POST
arriving at the receiver. The baseline, measured in the same run on the same connections, is
the time from the frame to the server's ``ack`` (the SMS stored, the event enqueued in the same
transaction): the webhook's own cost is what lies beyond it. Delivered/produced must be 1.0.

    .venv/bin/python benchmarks/webhooks.py [--rate 500] [--seconds 10] [--devices 5]

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
import websockets
from _support import cli, free_port


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


class Receiver:
    """A bare HTTP/1.1 receiver: notes when each event's POST arrived, answers 200."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.posts = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length)
                arrived = time.perf_counter()
                self.posts += 1
                message = json.loads(body)["data"]["message"]
                self.arrivals.setdefault(message, arrived)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # The run is over and its loop is closing: the server's idle keep-alive connections
            # end here. Re-raised, each would print a traceback from asyncio's stream callback.
            pass
        finally:
            writer.close()


async def device(  # noqa: PLR0917 - one device's whole script
    url: str,
    token: str,
    name: str,
    count: int,
    interval: float,
    start: float,
    sent: dict[str, float],
    acked: dict[str, float],
) -> None:
    ws_url = url.replace("http://", "ws://") + "/device/ws"
    async with websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "sims": [1]}))
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise RuntimeError(f"expected a welcome frame, got {welcome}")
        done = asyncio.Event()

        async def reader() -> None:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "ack" and frame["id"] in sent:
                    acked[frame["id"]] = time.perf_counter()
                    if sum(1 for key in acked if key.startswith(name)) >= count:
                        done.set()

        task = asyncio.create_task(reader())
        for i in range(count):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key = f"{name}-{i}"
            sent[key] = time.perf_counter()
            frame = {"type": "received", "id": key, "number": "+15550100", "text": key, "sim": 1}
            await ws.send(json.dumps(frame))
        await asyncio.wait_for(done.wait(), timeout=60)
        task.cancel()


async def measure(
    url: str, tokens: list[str], rate: float, seconds: float, receiver: Receiver
) -> dict[str, object]:
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    per_device = int(rate * seconds / len(tokens))
    interval = len(tokens) / rate
    start = time.perf_counter() + 0.5
    await asyncio.gather(
        *(
            device(
                url,
                token,
                f"d{n}",
                per_device,
                interval,
                start + n * interval / len(tokens),
                sent,
                acked,
            )
            for n, token in enumerate(tokens)
        )
    )
    produced_in = max(sent.values()) - start
    deadline = time.monotonic() + 30
    while len(receiver.arrivals) < len(sent) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    hook = [receiver.arrivals[key] - at for key, at in sent.items() if key in receiver.arrivals]
    ack = [acked[key] - at for key, at in sent.items() if key in acked]
    return {
        "rate_target": rate,
        "rate_produced": round(len(sent) / produced_in, 1),
        "devices": len(tokens),
        "produced": len(sent),
        "delivered": len(receiver.arrivals),
        "posts": receiver.posts,
        "delivered_ratio": round(len(receiver.arrivals) / len(sent), 4),
        "baseline_frame_to_ack": summary(ack),
        "frame_to_webhook_post": summary(hook),
        "ratio_p50_to_baseline": round(statistics.median(hook) / statistics.median(ack), 2)
        if hook
        else None,
        "ratio_p99_to_baseline": round(
            summary(hook)["p99_ms"] / max(summary(ack)["p99_ms"], 0.001), 2
        ),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    receiver = Receiver()
    hook_server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    hook_url = f"http://127.0.0.1:{hook_server.sockets[0].getsockname()[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            "SIMGATE_LOG_LEVEL": "warning",
            "SIMGATE_WEBHOOK_ALLOW_PRIVATE": "1",
            "SIMGATE_OPTOUT_KEYWORDS": "",
            "SIMGATE_OPTIN_KEYWORDS": "",
        }
        email = "bench@example.test"
        cli(env, "account", "create", "--email", email, "--password", "bench-password")
        if not args.baseline_only:
            cli(env, "webhook", "add", "--account", email, "--url", hook_url, "--format", "v2")
        tokens = [
            str(cli(env, "device", "add", "--account", email, "--no-qr")["token"])
            for _ in range(args.devices)
        ]
        port = free_port()
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
            [sys.executable, "-m", "simgate", "serve", "--port", str(port)], env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            async with httpx.AsyncClient() as http:
                while True:
                    try:
                        await http.get(url + "/openapi.json", timeout=1)
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.1)
            return await measure(url, tokens, args.rate, args.seconds, receiver)
        finally:
            server.terminate()
            server.wait(timeout=20)
            hook_server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument(
        "--baseline-only", action="store_true", help="no webhook endpoint: ingestion alone"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    result["command"] = (
        f"benchmarks/webhooks.py --rate {args.rate:g} --seconds {args.seconds:g} "
        f"--devices {args.devices}" + (" --baseline-only" if args.baseline_only else "")
    )
    print(json.dumps(result))
    print()
    print(f"{'measure':<26}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for key in ("baseline_frame_to_ack", "frame_to_webhook_post"):
        row = result[key]
        if not isinstance(row, dict):
            raise TypeError(key)
        print(f"{key:<26}{row['p50_ms']:>10}{row['p99_ms']:>10}{row['max_ms']:>10}")
    print(
        f"delivered / produced: {result['delivered']} / {result['produced']}"
        f" = {result['delivered_ratio']}"
    )
    print(
        f"webhook / baseline: p50 {result['ratio_p50_to_baseline']}x,"
        f" p99 {result['ratio_p99_to_baseline']}x"
    )


if __name__ == "__main__":
    main()
