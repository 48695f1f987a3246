"""The stand-in phone behind the stand-in ``termux-*`` commands of this folder.

The phone is a JSON file named by ``$SIMGATE_TEST_PHONE``: its inbox and sent box (as Android's
SMS provider holds them, one ``_id`` sequence for both), battery, telephony info, what
``termux-sms-send`` handed to Android, and failure modes per command. The commands and the tests
change it under a file lock, so a test can add an SMS while the agent is reading the boxes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_ENV = "SIMGATE_TEST_PHONE"

PERMISSIONS = {
    "termux-sms-list": ["android.permission.READ_SMS", "android.permission.READ_CONTACTS"],
    "termux-sms-send": ["android.permission.READ_PHONE_STATE", "android.permission.SEND_SMS"],
    "termux-telephony-deviceinfo": ["android.permission.READ_PHONE_STATE"],
}


def default_state() -> dict[str, Any]:
    return {
        "next_id": 1,
        "inbox": [],
        "sent": [],
        "handed_to_android": [],
        "calls": [],
        "fail": {},
        # As termux-battery-status prints it on an Android 14 phone.
        "battery": {
            "present": True,
            "technology": "Li-ion",
            "health": "GOOD",
            "plugged": "UNPLUGGED",
            "status": "DISCHARGING",
            "temperature": 27.5,
            "voltage": 3912,
            "current": -312000,
            "current_average": -298000,
            "percentage": 81,
            "level": 81,
            "scale": 100,
            "charge_counter": 3410000,
            "energy": None,
        },
        # As termux-telephony-deviceinfo prints it on a dual-SIM phone.
        "deviceinfo": {
            "data_enabled": "true",
            "data_activity": "none",
            "data_state": "connected",
            "device_id": None,
            "device_software_version": "01",
            "phone_count": 2,
            "phone_type": "gsm",
            "network_operator": "20610",
            "network_operator_name": "Orange B",
            "network_country_iso": "be",
            "network_type": "lte",
            "network_roaming": False,
            "sim_country_iso": "be",
            "sim_operator": "20610",
            "sim_operator_name": "Orange",
            "sim_serial_number": None,
            "sim_subscriber_id": None,
            "sim_state": "ready",
        },
    }


@contextlib.contextmanager
def phone(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """The phone's state, locked; changes are written back when the block ends."""
    path = path or Path(os.environ[STATE_ENV])
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(path.read_text()) if path.exists() else default_state()
        yield state
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(state, indent=1))
        os.replace(temp, path)


def store(state: dict[str, Any], box: str, number: str, body: str, at_ms: int | None) -> int:
    """Put an SMS into ``box`` as Android's SMS provider would; its ``_id``."""
    sms_id = state["next_id"]
    state["next_id"] += 1
    state[box].append(
        {"_id": sms_id, "number": number, "body": body, "date": at_ms or int(time.time() * 1000)}
    )
    return sms_id


def misbehave(command: str) -> None:
    """Fail as the real command does when its failure mode is set; return if it works."""
    with phone() as state:
        state["calls"].append(command)
        mode = state["fail"].get(command)
    if not mode:
        return
    if mode["mode"] == "hang":
        # termux-api waiting for an answer from a Termux:API app that is not there.
        while True:
            time.sleep(3600)
    if mode["mode"] == "permission":
        # Termux:API answers with this object (exit status 0) and opens the permission prompt.
        wanted = PERMISSIONS[command]
        error = (
            "Please grant the following permission"
            + ("s" if len(wanted) > 1 else "")
            + " to use this command: "
            + " ,".join(wanted)
        )
        print(json.dumps({"error": error}, indent=2))
        sys.exit(0)
    print(mode.get("stderr", ""), file=sys.stderr)
    sys.exit(mode.get("code", 1))


def print_json(value: object) -> None:
    """Print as Termux:API does: Android's JsonWriter with a two-space indent."""
    print(json.dumps(value, indent=2, ensure_ascii=False))
