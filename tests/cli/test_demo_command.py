"""``make run`` runs ``simgate demo``: a first curl with the printed key must end ``sent``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.cli.test_server_commands import free_port
from tests.conftest import eventually


def test_demo_prints_a_key_that_sends_through_the_simulated_phone(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "simgate", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        key = eventually(
            lambda: next(
                (m.group(1) for line in lines if (m := re.search(r"API key:\s+(\w+)", line))),
                None,
            ),
            timeout=30,
        )
        base = f"http://127.0.0.1:{port}"

        def send() -> httpx.Response | None:
            try:
                return httpx.get(
                    f"{base}/sendsms/",
                    params={"apikey": key, "recipients": "+15551234567", "message": "Hello"},
                )
            except httpx.HTTPError:
                return None

        response = eventually(send, timeout=30)
        guid = response.json()["result"]["id"]  # type: ignore[union-attr]

        def status() -> str:
            body = httpx.get(
                f"{base}/log/sent/sms/", params={"apikey": key, "guid_message": guid}
            ).json()
            return str(body["result"]["sms"][0]["status"])

        eventually(lambda: status() == "sent", timeout=30)
        assert (tmp_path / "simgate.db").exists()

        # The printed dashboard password signs in, and the dashboard shows the sent message.
        found = next(
            m for line in lines if (m := re.search(r"sign in as (\S+), password (\S+)\)", line))
        )
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/dashboard/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            signed = browser.post(
                "/dashboard/login",
                data={"email": found.group(1), "password": found.group(2), "csrf_token": token},
            )
            assert signed.status_code == 303
            assert guid in browser.get("/dashboard/sent").text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        reader.join(timeout=5)
        process.stdout.close()
    assert process.returncode == 0, "".join(lines)
