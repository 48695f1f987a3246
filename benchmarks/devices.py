"""How much one server process spends to hold many connected phones through heartbeat rounds.

Starts ``simgate serve`` on a fresh SQLite file with a short heartbeat, measures its idle RSS
(the baseline: same process, 0 phones), pairs ``--phones`` devices with ``simgate device add
--count N --json``, and connects them with real ``simgate agent --driver simulator
--tokens-file`` processes (``--agents`` of them, the tokens split evenly). Once every phone is
connected it lets ``--rounds`` heartbeat rounds pass and reports:

* server RSS: idle, after the ramp, peak during the rounds; RSS per phone;
* server CPU seconds: during the ramp, and during the heartbeat rounds (per round);
* none dropped: the agents' own count never falls below N after the ramp, and at the end
  ``/gateway/mobile/list/`` shows every device online and connected to this process, with a
  ``last_seen`` written during the rounds (so the batched heartbeat writes reached the DB).

    .venv/bin/python benchmarks/devices.py [--phones 10000] [--agents 2] [--heartbeat 10] \\
        [--rounds 2] [--connect-rate 100]

Prints one JSON object, then a short table. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _support import free_port

SIMGATE = [sys.executable, "-m", "simgate"]
TARGET_RSS = 1 << 30
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")
_CONNECTED = re.compile(rb"(\d+)/(\d+) phones connected")


def rss(pid: int) -> int:
    """Resident set size in bytes."""
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * _PAGE


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/no-such-path", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def connected_counts(logs: list[Path]) -> list[int]:
    """The last "X/N phones connected" count each agent printed (0 before its first)."""
    counts = []
    for log in logs:
        found = _CONNECTED.findall(log.read_bytes()) if log.exists() else []
        counts.append(int(found[-1][0]) if found else 0)
    return counts


def all_counts(logs: list[Path]) -> list[list[int]]:
    return [
        [int(match[0]) for match in _CONNECTED.findall(log.read_bytes())] if log.exists() else []
        for log in logs
    ]


def start_agents(
    args: argparse.Namespace, url: str, env: dict[str, str], folder: Path, tokens: list[str]
) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    """``--agents`` agent processes, the tokens split evenly, the connect rate too."""
    agents: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    share = -(-len(tokens) // args.agents)
    for index in range(args.agents):
        part = tokens[index * share : (index + 1) * share]
        if not part:
            continue
        tokens_file = folder / f"tokens{index}.txt"
        tokens_file.write_text("\n".join(part) + "\n")
        log = folder / f"agent{index}.log"
        logs.append(log)
        agents.append(
            subprocess.Popen(
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
                    str(folder / "outbox.jsonl"),
                    "--connect-rate",
                    str(args.connect_rate / args.agents),
                    "--log-level",
                    "warning",
                    # No long-poll fallback: an overloaded handshake must show, not hide.
                    "--transport",
                    "websocket",
                ],
                env=env,
                stderr=log.open("wb"),
            )
        )
    return agents, logs


def seen_since(db: Path, since_ms: int) -> int:
    """Devices whose last_seen the server wrote at or after ``since_ms`` (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM devices WHERE last_seen_ms >= ?", (since_ms,)
        ).fetchone()
    return int(count)


def wait_ramp(
    server: subprocess.Popen[bytes],
    agents: list[subprocess.Popen[bytes]],
    logs: list[Path],
    phones: int,
    deadline: float,
) -> None:
    """Until the agents report every phone connected (they print their count every 2 s)."""
    while sum(connected_counts(logs)) < phones:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sum(connected_counts(logs))} phones connected in time")
        if server.poll() is not None or any(agent.poll() is not None for agent in agents):
            raise RuntimeError("the server or an agent exited during the ramp")
        time.sleep(0.2)


def stop(server: subprocess.Popen[bytes], agents: list[subprocess.Popen[bytes]]) -> None:
    """Agents first (SIGINT: a graceful stop), then the server (SIGTERM)."""
    for agent in agents:
        agent.send_signal(signal.SIGINT)
    for process in [*agents, server]:
        if process is server:
            server.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="simgate-devices-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = folder / "bench.db"
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "SIMGATE_PORT": str(port),
        "SIMGATE_PUBLIC_BASE_URL": url,
        "SIMGATE_PASSWORD_HASH_COST": "test",
        "SIMGATE_LOG_LEVEL": "warning",
        # One key carries the whole load: the per-key rate limit would measure 429s.
        "SIMGATE_API_RATE_PER_SECOND": "0",
        "SIMGATE_HEARTBEAT_SECONDS": str(args.heartbeat),
        "SIMGATE_LAST_SEEN_FLUSH_SECONDS": str(args.flush),
    }
    env.pop("SIMGATE_DEVICE_TOKEN", None)
    email = "bench@example.test"

    def cli(*argv: str) -> Any:
        out = subprocess.run(
            [*SIMGATE, *argv], env=env, capture_output=True, text=True, check=True, timeout=600
        )
        return json.loads(out.stdout)

    api_key = cli("account", "create", "--email", email, "--password", "bench-pass-1", "--json")[
        "api_key"
    ]
    paired_at = time.monotonic()
    paired = cli(
        "device",
        "add",
        "--account",
        email,
        "--label",
        "bench",
        "--count",
        str(args.phones),
        "--json",
    )
    pairing_seconds = time.monotonic() - paired_at
    tokens = [item["token"] for item in paired]

    server = subprocess.Popen(
        [*SIMGATE, "serve"], env=env, stderr=(folder / "serve.log").open("wb")
    )
    agents: list[subprocess.Popen[bytes]] = []
    try:
        wait_http(url)
        time.sleep(2)  # let start-up allocations settle
        idle_rss = rss(server.pid)

        cpu_before_ramp = cpu_seconds(server.pid)
        ramp_started = time.monotonic()
        agents, logs = start_agents(args, url, env, folder, tokens)
        wait_ramp(server, agents, logs, len(tokens), ramp_started + args.ramp_timeout)
        ramp_seconds = time.monotonic() - ramp_started
        cpu_ramp = cpu_seconds(server.pid) - cpu_before_ramp
        connected_rss = rss(server.pid)
        agent_rss = [rss(agent.pid) for agent in agents]
        counts_at_ramp = [len(counts) for counts in all_counts(logs)]

        rounds_started_ms = int(time.time() * 1000)
        cpu_before_rounds = cpu_seconds(server.pid)
        peak_rss = connected_rss
        window = args.rounds * args.heartbeat + args.flush + 1
        end = time.monotonic() + window
        while time.monotonic() < end:
            peak_rss = max(peak_rss, rss(server.pid))
            time.sleep(0.25)
        cpu_rounds = cpu_seconds(server.pid) - cpu_before_rounds
        agent_rss = [max(a, rss(agent.pid)) for a, agent in zip(agent_rss, agents, strict=True)]

        later = [counts[n:] for counts, n in zip(all_counts(logs), counts_at_ramp, strict=True)]
        lowest_after_ramp = sum(
            min([*tail, final]) for tail, final in zip(later, connected_counts(logs), strict=True)
        )
        listing = httpx.get(
            f"{url}/gateway/mobile/list/", params={"apikey": api_key}, timeout=120
        ).json()
        online = sum(1 for item in listing["items"] if item["online"])
        seen_during_rounds = seen_since(db, rounds_started_ms)
        final_rss = rss(server.pid)
    finally:
        stop(server, agents)

    phones = len(tokens)
    dropped = phones - min(lowest_after_ramp, listing["connected_now"], online)
    return {
        "phones": phones,
        "agent_processes": len(agents),
        "heartbeat_seconds": args.heartbeat,
        "last_seen_flush_seconds": args.flush,
        "rounds": args.rounds,
        "pairing_seconds": round(pairing_seconds, 2),
        "ramp_seconds": round(ramp_seconds, 2),
        "server_rss_mib": {
            "idle_baseline": round(idle_rss / 2**20, 1),
            "all_connected": round(connected_rss / 2**20, 1),
            "peak_during_rounds": round(peak_rss / 2**20, 1),
            "after_rounds": round(final_rss / 2**20, 1),
        },
        "server_rss_per_phone_kib": round((peak_rss - idle_rss) / phones / 1024, 1),
        "peak_vs_idle": round(peak_rss / idle_rss, 2),
        "server_cpu_seconds": {
            "ramp": round(cpu_ramp, 2),
            "rounds_window": round(cpu_rounds, 2),
            "rounds_window_seconds": window,
            "per_phone_per_round_ms": round(cpu_rounds / phones / args.rounds * 1000, 4),
        },
        "agent_rss_mib": [round(value / 2**20, 1) for value in agent_rss],
        "connected_now": listing["connected_now"],
        "online_in_list": online,
        "last_seen_written_during_rounds": seen_during_rounds,
        "dropped": dropped,
        "target_rss_met": peak_rss <= TARGET_RSS,
        "none_dropped": dropped == 0 and seen_during_rounds == phones,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2, help="agent processes")
    parser.add_argument("--heartbeat", type=int, default=10, help="server ping period, s")
    parser.add_argument("--flush", type=float, default=5.0, help="last-seen flush period, s")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connect-rate", type=float, default=100.0, help="phones/s, in all")
    parser.add_argument("--ramp-timeout", type=float, default=600.0)
    result = run(parser.parse_args())
    print(json.dumps(result, indent=2))
    rss_mib = result["server_rss_mib"]
    cpu = result["server_cpu_seconds"]
    rows = [
        ("phones connected (agents)", f"{result['phones']} ({result['agent_processes']})"),
        ("ramp", f"{result['ramp_seconds']} s, server CPU {cpu['ramp']} s"),
        ("server RSS idle (baseline)", f"{rss_mib['idle_baseline']} MiB"),
        ("server RSS all connected", f"{rss_mib['all_connected']} MiB"),
        (
            "server RSS peak in rounds",
            f"{rss_mib['peak_during_rounds']} MiB ({result['peak_vs_idle']}x idle)",
        ),
        ("server RSS per phone", f"{result['server_rss_per_phone_kib']} KiB"),
        (
            f"server CPU, {result['rounds']} rounds",
            f"{cpu['rounds_window']} s in {cpu['rounds_window_seconds']} s",
        ),
        ("dropped", str(result["dropped"])),
        ("last_seen written in rounds", str(result["last_seen_written_during_rounds"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
