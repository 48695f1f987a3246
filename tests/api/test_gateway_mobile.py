"""``/gateway/mobile/list|update|delete/`` over real HTTP, with devices on real WebSockets."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import time as clock_time
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.conftest import eventually
from tests.contract import validate
from tests.support.api import mutation, refused, send_sms
from tests.support.server import Account, LiveServer, PairedDevice

LIST = "/gateway/mobile/list/"
UPDATE = "/gateway/mobile/update/"
DELETE = "/gateway/mobile/delete/"
WAIT = 5.0
#: The close code of a refused (or deleted) device token, from docs/device-protocol.md.
CLOSE_INVALID_TOKEN = 4401


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Phone:
    """A device speaking protocol 1 over a real WebSocket, one frame at a time, as a test says."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._pending: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def hello(self, **fields: Any) -> dict[str, Any]:
        self.send(
            {
                "type": "hello",
                "protocol": 1,
                "version": "1.0.0",
                "driver": "test",
                "sims": [1],
                "capabilities": ["sms"],
                **fields,
            }
        )
        return self.expect("welcome")

    def expect(self, kind: str, timeout: float = WAIT, **match: Any) -> dict[str, Any]:
        """The next frame of type ``kind`` (with ``match`` fields); others wait their turn."""
        deadline = time.monotonic() + timeout
        while True:
            for index, frame in enumerate(self._pending):
                if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                    return self._pending.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind!r} frame within {timeout} s: {self._pending}")
            try:
                self._pending.append(json.loads(self.ws.recv(timeout=remaining)))
            except TimeoutError:
                continue

    def report(self, kind: str, **fields: Any) -> None:
        """Send a state-changing frame and wait until the server acknowledges it."""
        frame_id = uuid4().hex
        self.send({"type": kind, "id": frame_id, **fields})
        self.expect("ack", id=frame_id)

    def close_code(self, timeout: float = WAIT) -> int | None:
        """Wait until the server closes the socket; the close code it sent."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.ws.recv(timeout=remaining)
            except ConnectionClosed as exc:
                return None if exc.rcvd is None else exc.rcvd.code
            except TimeoutError:
                break
        raise AssertionError(f"the server did not close the socket within {timeout} s")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def phones() -> Iterator[Callable[[LiveServer, PairedDevice], Phone]]:
    """Connect a device's token to a server; every socket is closed after the test."""
    with contextlib.ExitStack() as stack:

        def open_phone(server: LiveServer, device: PairedDevice) -> Phone:
            url = server.url.replace("http://", "ws://", 1) + "/device/ws"
            ws = stack.enter_context(
                connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {device.token}"},
                    open_timeout=WAIT,
                )
            )
            return Phone(ws)

        yield open_phone


def listing(http: httpx.Client, account: Account, **params: str) -> dict[str, Any]:
    response = http.get(LIST, params={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate(body, "simgate.MobileList")
    return body


def item(http: httpx.Client, account: Account, sid: str) -> dict[str, Any]:
    [found] = listing(http, account, sid=sid)["items"]
    return found  # type: ignore[no-any-return]


def send_to(http: httpx.Client, account: Account, sid: str, **extra: str) -> str:
    """Send one SMS that only the device ``sid`` may send; its GUID."""
    return send_sms(http, account, sIdentifiant=sid, **extra)


def sent_log_row(http: httpx.Client, account: Account, guid: str) -> dict[str, Any]:
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid})
    return body.json()["result"]["sms"][0]  # type: ignore[no-any-return]


class TestList:
    def test_lists_every_device_of_the_account_with_the_documented_fields(
        self, server: LiveServer
    ) -> None:
        account = server.create_account()
        first = server.add_device(account, label="Office")
        second = server.add_device(account, label="Warehouse")
        with server.client() as http:
            body = listing(http, account)
        assert body["success"] is True
        assert [(i["sid"], i["label"]) for i in body["items"]] == [
            (first.sid, "Office"),
            (second.sid, "Warehouse"),
        ]
        never_seen = body["items"][0]
        assert never_seen["sIdentifiant"] == first.sid
        assert never_seen["online"] is False
        assert never_seen["last_seen"] is None
        assert never_seen["phone_number"] is None
        assert never_seen["battery"] is None
        assert never_seen["signal"] is None
        assert never_seen["version"] is None
        assert never_seen["sims"] == []
        assert never_seen["sent_today"] == 0
        assert never_seen["received_today"] == 0
        assert body["connected_limit"] == 2
        assert body["connected_now"] == 0
        assert body["connected_available"] == 2
        assert body["filters"] == {"sid": None, "search": None}
        assert body["note"]

    def test_a_connected_device_shows_what_it_said_in_hello(
        self, server: LiveServer, phones: Callable[[LiveServer, PairedDevice], Phone]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        server.add_device(account)
        phones(server, device).hello(version="3.0.33", battery=77, signal=3, sims=[1, 2])
        with server.client() as http:
            body = listing(http, account)
        mobile = next(i for i in body["items"] if i["sid"] == device.sid)
        assert mobile["online"] is True
        assert mobile["version"] == "3.0.33"
        assert mobile["battery"] == 77
        assert mobile["signal"] == 3
        assert mobile["sims"] == [{"port": 1}, {"port": 2}]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", mobile["last_seen"])
        assert abs(mobile["last_seen_unix"] - time.time()) < 30
        assert (body["connected_limit"], body["connected_now"], body["connected_available"]) == (
            2,
            1,
            1,
        )

    def test_last_seen_is_shown_in_the_configured_zone(
        self,
        shared_servers: Callable[..., LiveServer],
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        server = shared_servers(timezone="Asia/Kathmandu")
        account = server.create_account()
        device = server.add_device(account)
        phones(server, device).hello()
        with server.client() as http:
            mobile = item(http, account, device.sid)
        expected = datetime.fromtimestamp(mobile["last_seen_unix"], ZoneInfo("Asia/Kathmandu"))
        assert mobile["last_seen"] == expected.strftime("%Y-%m-%d %H:%M:%S")

    def test_sid_filter_returns_only_that_device(self, server: LiveServer) -> None:
        account = server.create_account()
        server.add_device(account)
        wanted = server.add_device(account, label="wanted")
        with server.client() as http:
            body = listing(http, account, sid=wanted.sid)
        assert [i["sid"] for i in body["items"]] == [wanted.sid]
        assert body["filters"] == {"sid": wanted.sid, "search": None}
        # The counts describe the whole account, not the filtered page.
        assert body["connected_limit"] == 2

    def test_sid_filter_is_exact(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            assert listing(http, account, sid=device.sid[:-1])["items"] == []
            assert listing(http, account, sid=device.sid.upper())["items"] == []

    def test_unknown_sid_filter_gives_an_empty_list_not_an_error(self, server: LiveServer) -> None:
        account = server.create_account()
        server.add_device(account)
        with server.client() as http:
            assert listing(http, account, sid="0123456789abcdef")["items"] == []

    def test_empty_sid_and_search_mean_no_filter(self, server: LiveServer) -> None:
        account = server.create_account()
        server.add_device(account)
        with server.client() as http:
            body = listing(http, account, sid="", search="  ")
        assert len(body["items"]) == 1
        assert body["filters"] == {"sid": None, "search": None}

    def test_a_too_long_sid_is_refused(self, server: LiveServer) -> None:
        account = server.create_account()
        with server.client() as http:
            response = http.get(LIST, params={"apikey": account.api_key, "sid": "a" * 41})
        refused(response, 400, "invalid_parameter", "sid")

    @pytest.mark.parametrize(
        ("search", "expected"),
        [
            ("office", ["Office"]),
            ("WAREHOUSE", ["Warehouse"]),
            ("+3247", ["Office"]),
            ("3.0.33", ["Office"]),
            ("battery", ["Office"]),
            ("nothing like this", []),
            ("%", []),
        ],
    )
    def test_search_matches_label_number_version_and_battery_case_insensitively(
        self,
        server: LiveServer,
        phones: Callable[[LiveServer, PairedDevice], Phone],
        search: str,
        expected: list[str],
    ) -> None:
        account = server.create_account()
        office = server.add_device(account, label="Office")
        warehouse = server.add_device(account, label="Warehouse")
        # SIDs are random hex: pick a battery level whose digits the other SID does not hold.
        battery = next(n for n in range(10, 100) if str(n) not in warehouse.sid)
        if search == "battery":
            search = str(battery)
        phones(server, office).hello(version="3.0.33", battery=battery)
        with server.client() as http:
            mutation(
                http.get(
                    UPDATE,
                    params={
                        "apikey": account.api_key,
                        "sid": office.sid,
                        "label": "Office",
                        "phone_number": "+32470123456",
                    },
                )
            )
            body = listing(http, account, search=search)
        assert [i["label"] for i in body["items"]] == expected
        assert body["filters"]["search"] == search

    def test_search_matches_the_sid_and_the_last_seen_date(
        self, server: LiveServer, phones: Callable[[LiveServer, PairedDevice], Phone]
    ) -> None:
        account = server.create_account()
        seen = server.add_device(account)
        never = server.add_device(account)
        phones(server, seen).hello()
        with server.client() as http:
            day = item(http, account, seen.sid)["last_seen"][:10]
            assert [i["sid"] for i in listing(http, account, search=day)["items"]] == [seen.sid]
            by_sid = listing(http, account, search=never.sid[3:9])["items"]
        assert [i["sid"] for i in by_sid] == [never.sid]

    def test_a_too_long_search_is_refused(self, server: LiveServer) -> None:
        account = server.create_account()
        with server.client() as http:
            response = http.get(LIST, params={"apikey": account.api_key, "search": "x" * 201})
        refused(response, 400, "invalid_parameter", "search")

    def test_another_account_never_sees_these_devices(self, server: LiveServer) -> None:
        owner = server.create_account()
        other = server.create_account()
        device = server.add_device(owner)
        mine = server.add_device(other)
        with server.client() as http:
            body = listing(http, other)
            assert [i["sid"] for i in body["items"]] == [mine.sid]
            assert body["connected_limit"] == 1
            assert listing(http, other, sid=device.sid)["items"] == []
            assert listing(http, other, search=device.sid)["items"] == []

    def test_needs_an_api_key(self, server: LiveServer) -> None:
        with server.client() as http:
            refused(http.get(LIST), 400, "missing_apikey")
            refused(http.get(LIST, params={"apikey": "not-a-key"}), 403, "invalid_apikey")

    @pytest.mark.parametrize("path", [LIST, LIST.rstrip("/")])
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_answers_get_and_post_with_and_without_the_slash(
        self, server: LiveServer, path: str, method: str
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            response = http.request(
                method, path, params={"apikey": account.api_key, "sid": device.sid}
            )
        assert response.status_code == 200
        validate(response.json(), "simgate.MobileList")
        assert [i["sid"] for i in response.json()["items"]] == [device.sid]


class TestOnline:
    def test_online_while_connected_even_without_heartbeats_and_offline_after_leaving(
        self,
        shared_servers: Callable[..., LiveServer],
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        server = shared_servers(device_online_seconds=5)
        account = server.create_account()
        device = server.add_device(account)
        phone = phones(server, device)
        phone.hello()
        with server.client() as http:
            assert item(http, account, device.sid)["online"] is True
            # Past the heartbeat window with no frame from the phone: still connected here.
            time.sleep(5.5)
            body = listing(http, account)
            assert body["items"][0]["online"] is True
            assert body["connected_now"] == 1
            phone.close()
            eventually(lambda: item(http, account, device.sid)["online"] is False, timeout=10)
            body = listing(http, account)
        assert body["connected_now"] == 0
        assert body["connected_available"] == 1

    def test_a_recent_heartbeat_counts_as_online_after_disconnecting(
        self,
        shared_servers: Callable[..., LiveServer],
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        """A phone connected to another server process is seen only through its heartbeats."""
        server = shared_servers(device_online_seconds=30)
        account = server.create_account()
        device = server.add_device(account)
        phone = phones(server, device)
        phone.hello()
        phone.close()
        with server.client() as http:
            time.sleep(0.5)
            assert item(http, account, device.sid)["online"] is True


class TestTodayCounts:
    def test_sent_today_counts_what_each_device_reported_sent(
        self,
        shared_servers: Callable[..., LiveServer],
        engine: str,
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        first = server.add_device(account)
        second = server.add_device(account)
        phone_one = phones(server, first)
        phone_one.hello()
        phone_two = phones(server, second)
        phone_two.hello()
        with server.client() as http:
            guids = [send_to(http, account, first.sid) for _ in range(3)]
            other = send_to(http, account, second.sid)
            for guid in guids[:2]:
                phone_one.expect("send", guid=guid)
                phone_one.report("sent", guid=guid, sim=1, at=now_ms())
            phone_one.expect("send", guid=guids[2])
            phone_one.report("failed", guid=guids[2], error="no credit", operator=False, at=0)
            phone_two.expect("send", guid=other)
            phone_two.report("sent", guid=other, at=now_ms())
            assert item(http, account, first.sid)["sent_today"] == 2
            assert item(http, account, second.sid)["sent_today"] == 1
            assert item(http, account, first.sid)["received_today"] == 0

    def test_received_today_counts_sms_since_midnight_in_the_configured_zone(
        self,
        shared_servers: Callable[..., LiveServer],
        engine: str,
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        # UTC+14: local midnight is far from UTC midnight at every hour of the day.
        zone = ZoneInfo("Pacific/Kiritimati")
        server = shared_servers(engine=engine, timezone=zone.key)
        account = server.create_account()
        first = server.add_device(account)
        second = server.add_device(account)
        today = datetime.now(zone).date()
        midnight = int(datetime.combine(today, clock_time(), tzinfo=zone).timestamp() * 1000)
        phone_one = phones(server, first)
        phone_one.hello()
        phone_two = phones(server, second)
        phone_two.hello()
        for at in (midnight - 60_000, midnight, now_ms()):
            phone_one.report("received", number="+32470999888", text="hi", at=at)
        phone_two.report("received", number="+32470999888", text="hi", at=now_ms())
        with server.client() as http:
            assert item(http, account, first.sid)["received_today"] == 2
            assert item(http, account, second.sid)["received_today"] == 1
            assert item(http, account, first.sid)["sent_today"] == 0


class TestUpdate:
    def test_sets_the_label_and_the_phone_number_in_e164(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account, label="old")
        with server.client() as http:
            body = mutation(
                http.get(
                    UPDATE,
                    params={
                        "apikey": account.api_key,
                        "sid": device.sid,
                        "label": "  Office phone  ",
                        "phone_number": "0470 12 34 56",
                    },
                )
            )
            assert body == {
                "success": True,
                "sid": device.sid,
                "label": "Office phone",
                "phone_number": "+32470123456",
                "pacing": {"rate_per_minute": None, "rate_per_hour": None, "daily_cap": None},
            }
            shown = item(http, account, device.sid)
        assert (shown["label"], shown["phone_number"]) == ("Office phone", "+32470123456")

    def test_an_empty_label_clears_it_and_keeps_the_phone_number(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account, label="old")
        with server.client() as http:
            params = {"apikey": account.api_key, "sid": device.sid}
            mutation(
                http.get(UPDATE, params={**params, "label": "x", "phone_number": "+1 555 0100 200"})
            )
            body = mutation(http.get(UPDATE, params={**params, "label": ""}))
            assert body["label"] == ""
            assert body["phone_number"] == "+15550100200"
            assert item(http, account, device.sid)["label"] == ""

    def test_an_empty_phone_number_leaves_it_unchanged(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            params = {"apikey": account.api_key, "sid": device.sid, "label": "a"}
            mutation(http.get(UPDATE, params={**params, "phone_number": "+32470123456"}))
            body = mutation(http.get(UPDATE, params={**params, "phone_number": ""}))
        assert body["phone_number"] == "+32470123456"

    def test_an_absent_label_is_a_missing_parameter_and_changes_nothing(
        self, server: LiveServer
    ) -> None:
        account = server.create_account()
        device = server.add_device(account, label="kept")
        with server.client() as http:
            response = http.get(
                UPDATE,
                params={
                    "apikey": account.api_key,
                    "sid": device.sid,
                    "phone_number": "+32470123456",
                },
            )
            refused(response, 400, "missing_parameter", "label")
            shown = item(http, account, device.sid)
        assert (shown["label"], shown["phone_number"]) == ("kept", None)

    def test_a_json_null_label_counts_as_absent(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account, label="kept")
        with server.client() as http:
            response = http.post(
                UPDATE, json={"apikey": account.api_key, "sid": device.sid, "label": None}
            )
            refused(response, 400, "missing_parameter", "label")
            assert item(http, account, device.sid)["label"] == "kept"

    @pytest.mark.parametrize(
        "number", ["not a number", "123", "+3247012345678901234", "+32 470 12 34 56; +1"]
    )
    def test_an_invalid_phone_number_is_refused_and_changes_nothing(
        self, server: LiveServer, number: str
    ) -> None:
        account = server.create_account()
        device = server.add_device(account, label="kept")
        with server.client() as http:
            response = http.get(
                UPDATE,
                params={
                    "apikey": account.api_key,
                    "sid": device.sid,
                    "label": "changed",
                    "phone_number": number,
                },
            )
            refused(response, 400, "invalid_parameter", "phone_number")
            shown = item(http, account, device.sid)
        assert (shown["label"], shown["phone_number"]) == ("kept", None)

    def test_a_label_over_100_characters_is_refused(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account, label="kept")
        with server.client() as http:
            params = {"apikey": account.api_key, "sid": device.sid}
            refused(
                http.get(UPDATE, params={**params, "label": "x" * 101}),
                400,
                "invalid_parameter",
                "label",
            )
            assert item(http, account, device.sid)["label"] == "kept"
            assert (
                mutation(http.get(UPDATE, params={**params, "label": "y" * 100}))["label"]
                == "y" * 100
            )

    def test_sid_is_required(self, server: LiveServer) -> None:
        account = server.create_account()
        with server.client() as http:
            for params in ({"label": "x"}, {"label": "x", "sid": ""}):
                response = http.get(UPDATE, params={"apikey": account.api_key, **params})
                refused(response, 400, "missing_parameter", "sid")
            response = http.get(
                UPDATE, params={"apikey": account.api_key, "sid": "a" * 41, "label": "x"}
            )
            refused(response, 400, "invalid_parameter", "sid")

    def test_an_unknown_sid_and_another_accounts_sid_are_both_not_found(
        self, server: LiveServer
    ) -> None:
        owner = server.create_account()
        other = server.create_account()
        device = server.add_device(owner, label="kept")
        with server.client() as http:
            foreign = http.get(
                UPDATE, params={"apikey": other.api_key, "sid": device.sid, "label": "stolen"}
            )
            unknown = http.get(
                UPDATE, params={"apikey": other.api_key, "sid": "0123456789abcdef", "label": "x"}
            )
            refused(foreign, 404, "not_found")
            refused(unknown, 404, "not_found")
            assert foreign.json()["message"].replace(device.sid, "S") == unknown.json()[
                "message"
            ].replace("0123456789abcdef", "S")
            assert item(http, owner, device.sid)["label"] == "kept"

    def test_needs_an_api_key(self, server: LiveServer) -> None:
        with server.client() as http:
            refused(http.get(UPDATE, params={"sid": "x", "label": "y"}), 400, "missing_apikey")

    @pytest.mark.parametrize("path", [UPDATE, UPDATE.rstrip("/")])
    def test_accepts_a_form_body_and_a_json_body(self, server: LiveServer, path: str) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            params = {"apikey": account.api_key, "sid": device.sid}
            assert mutation(http.post(path, data={**params, "label": "form"}))["label"] == "form"
            assert mutation(http.post(path, json={**params, "label": "json"}))["label"] == "json"
            assert mutation(http.post(path, params={**params, "label": ""}))["label"] == ""


class TestDelete:
    def test_removes_the_device_its_history_and_fails_what_waited_for_it(
        self,
        shared_servers: Callable[..., LiveServer],
        engine: str,
        phones: Callable[[LiveServer, PairedDevice], Phone],
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        doomed = server.add_device(account)
        spare = server.add_device(account)
        phone = phones(server, doomed)
        phone.hello()
        for text in ("one", "two"):
            phone.report("received", number="+32470999888", text=text, at=now_ms())
        phone.report("mobile_sent", number="+32470999888", text="typed", at=now_ms(), formatted="")
        with server.client() as http:
            delivered = send_to(http, account, doomed.sid)
            phone.expect("send", guid=delivered)
            phone.report("sent", guid=delivered, at=now_ms())
            held = send_to(http, account, doomed.sid)  # handed to the phone, never reported
            phone.expect("send", guid=held)
            later = send_to(
                http, account, doomed.sid, schedule_timestamp=str(int(time.time()) + 3600)
            )
            anyone = http.get(
                "/sendsms/",
                params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
            ).json()["result"]["id"]
            phone.expect("send", guid=anyone)  # the only connected phone holds it

            body = mutation(http.get(DELETE, params={"apikey": account.api_key, "sid": doomed.sid}))
            assert body == {
                "success": True,
                "sid": doomed.sid,
                "deleted": {"received": 2, "mobile_sent": 1, "failed_queued": 2},
                "requeued": 1,
            }
            assert [i["sid"] for i in listing(http, account)["items"]] == [spare.sid]
            inbox = http.get("/getsms/", params={"apikey": account.api_key}).json()
            assert inbox["result"]["sms"] == []
            for guid in (held, later):
                row = sent_log_row(http, account, guid)
                assert (row["status"], row["error_api"]) == ("failed", "device deleted")
            kept = sent_log_row(http, account, delivered)
            assert (kept["status"], kept["send_from_mobile_sIdentifiant"]) == ("sent", doomed.sid)
            # The message any phone could send goes to the next phone that connects.
            assert sent_log_row(http, account, anyone)["status"] == "queued"
            spare_phone = phones(server, spare)
            spare_phone.hello()
            spare_phone.expect("send", guid=anyone)

    def test_the_live_connection_is_closed_and_the_token_refused(
        self, server: LiveServer, phones: Callable[[LiveServer, PairedDevice], Phone]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        phone = phones(server, device)
        phone.hello()
        with server.client() as http:
            mutation(http.get(DELETE, params={"apikey": account.api_key, "sid": device.sid}))
        assert phone.close_code(timeout=2) == CLOSE_INVALID_TOKEN
        assert phones(server, device).close_code() == CLOSE_INVALID_TOKEN

    def test_deleting_twice_is_not_found_the_second_time(self, server: LiveServer) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            params = {"apikey": account.api_key, "sid": device.sid}
            first = mutation(http.get(DELETE, params=params))
            assert first["deleted"] == {"received": 0, "mobile_sent": 0, "failed_queued": 0}
            refused(http.get(DELETE, params=params), 404, "not_found")

    def test_another_account_cannot_delete_the_device_nor_disturb_its_connection(
        self, server: LiveServer, phones: Callable[[LiveServer, PairedDevice], Phone]
    ) -> None:
        owner = server.create_account()
        other = server.create_account()
        device = server.add_device(owner)
        phone = phones(server, device)
        phone.hello()
        with server.client() as http:
            refused(
                http.get(DELETE, params={"apikey": other.api_key, "sid": device.sid}),
                404,
                "not_found",
            )
            assert item(http, owner, device.sid)["online"] is True
            phone.report("received", number="+32470999888", text="still here", at=now_ms())
            assert item(http, owner, device.sid)["received_today"] == 1

    def test_sid_is_required_and_bounded(self, server: LiveServer) -> None:
        account = server.create_account()
        server.add_device(account)
        with server.client() as http:
            refused(
                http.get(DELETE, params={"apikey": account.api_key}),
                400,
                "missing_parameter",
                "sid",
            )
            refused(
                http.get(DELETE, params={"apikey": account.api_key, "sid": ""}),
                400,
                "missing_parameter",
                "sid",
            )
            refused(
                http.get(DELETE, params={"apikey": account.api_key, "sid": "a" * 41}),
                400,
                "invalid_parameter",
                "sid",
            )
            assert len(listing(http, account)["items"]) == 1

    def test_an_unknown_sid_is_not_found(self, server: LiveServer) -> None:
        account = server.create_account()
        server.add_device(account)
        with server.client() as http:
            response = http.get(
                DELETE, params={"apikey": account.api_key, "sid": "0123456789abcdef"}
            )
            refused(response, 404, "not_found")
            assert len(listing(http, account)["items"]) == 1

    def test_needs_an_api_key(self, server: LiveServer) -> None:
        with server.client() as http:
            refused(http.post(DELETE, data={"sid": "x"}), 400, "missing_apikey")

    @pytest.mark.parametrize("path", [DELETE, DELETE.rstrip("/")])
    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_answers_get_and_post_with_and_without_the_slash(
        self, server: LiveServer, path: str, method: str
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            response = http.request(
                method, path, params={"apikey": account.api_key, "sid": device.sid}
            )
            assert mutation(response)["sid"] == device.sid
            assert listing(http, account)["items"] == []
