"""``/getsms/``: the SMS received on an account's phones, as SMSMobileAPI clients read them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from simgate.services import inbox
from simgate.services.devices import Device
from simgate.services.inbox import Inbound
from tests.conftest import eventually
from tests.contract import validate
from tests.support.api import T0, device_of, receive, refused
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer, PairedDevice


def getsms(http: httpx.Client, account: Account, **params: str) -> list[dict[str, Any]]:
    response = http.get("/getsms/", params={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "official.ReceivedSmsResponse")
    validate(body, "simgate.ReceivedSms")
    assert body["result"]["error"] == ""
    return body["result"]["sms"]  # type: ignore[no-any-return]


@pytest.fixture
def phone(server: LiveServer, account: Account) -> PairedDevice:
    return server.add_device(account, "office phone")


class TestListing:
    def test_an_account_without_received_sms_gets_an_empty_array(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get("/getsms/", params={"apikey": account.api_key})
        assert response.json() == {"result": {"error": "", "sms": []}}

    def test_an_sms_received_by_a_real_phone_is_listed_with_every_field(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        agents: Callable[..., RunningAgent],
    ) -> None:
        agent = agents(server, phone.token)
        agent.do(lambda: agent.driver.inject_received("0470 12 34 56", "Hello there", at_ms=T0))
        [sms] = eventually(lambda: getsms(http, account))  # type: ignore[misc]
        assert isinstance(sms["id"], int)
        assert sms["sIdentifiantPhone"] == phone.sid
        assert sms["timestamp_unix"] == T0 // 1000
        assert sms["message"] == "Hello there"
        assert sms["number"] == "+32470123456"  # normalised with the default region, BE
        assert re.fullmatch(r"[0-9a-f]{40}", sms["guid"])
        assert sms["alias"] is None
        assert sms["time_received"] == "2026-03-13 08:45:12"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", sms["date"])
        assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", sms["hour"])
        assert sms["read"] == 0

    def test_a_sender_name_that_is_not_a_number_is_kept_as_shown(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "MyBank", "Your code is 1234")
        [sms] = getsms(http, account)
        assert sms["number"] == "MyBank"

    def test_the_most_recently_received_comes_first_whatever_the_arrival_order(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "+32470000001", "middle", T0)
        receive(server, device, "+32470000001", "newest", T0 + 60_000)
        receive(server, device, "+32470000001", "oldest", T0 - 60_000)  # a phone syncing late
        assert [sms["message"] for sms in getsms(http, account)] == ["newest", "middle", "oldest"]

    def test_human_dates_are_in_the_configured_time_zone(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(timezone="Europe/Brussels")
        account = server.create_account()
        device = device_of(server, server.add_device(account))
        receive(server, device, "+32470000001", "hi", T0)
        with server.client() as http:
            [sms] = getsms(http, account)
        assert sms["time_received"] == "2026-03-13 09:45:12"  # UTC+1 in March
        assert sms["timestamp_unix"] == T0 // 1000

    @pytest.mark.parametrize(
        "route", ["GET /getsms", "GET /getsms/", "POST /getsms", "POST /getsms/"]
    )
    def test_every_method_and_spelling_of_the_path_answers(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device, route: str
    ) -> None:
        method, path = route.split()
        receive(server, device, "+32470000001", "hi")
        if method == "GET":
            response = http.get(path, params={"apikey": account.api_key})
        else:
            response = http.post(path, data={"apikey": account.api_key})
        assert response.status_code == 200
        assert len(response.json()["result"]["sms"]) == 1

    def test_at_most_1000_rows_are_returned_the_newest(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        async def fill() -> None:
            for index in range(1001):
                sms = Inbound(
                    frame_id=f"f{index}",
                    number="+32470000001",
                    text=f"sms {index}",
                    received_ms=T0 + index * 1000,
                    sim=1,
                )
                await inbox.record_received(server.ctx, device, sms)

        server.call(fill(), timeout=120)
        rows = getsms(http, account)
        assert len(rows) == 1000
        assert rows[0]["message"] == "sms 1000"
        assert rows[-1]["message"] == "sms 1"


class TestSIdentifiantPhone:
    def test_only_the_sms_of_that_phone_are_listed(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        other = server.add_device(account, "second phone")
        receive(server, device, "+32470000001", "to the first")
        receive(server, device_of(server, other), "+32470000001", "to the second")
        rows = getsms(http, account, sIdentifiantPhone=other.sid)
        assert [(row["message"], row["sIdentifiantPhone"]) for row in rows] == [
            ("to the second", other.sid)
        ]

    def test_an_empty_value_lists_every_phone(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "+32470000001", "hi")
        assert len(getsms(http, account, sIdentifiantPhone="")) == 1

    def test_an_unknown_sid_is_not_found(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/getsms/", params={"apikey": account.api_key, "sIdentifiantPhone": "nope"}
        )
        refused(response, 404, "not_found")

    def test_another_accounts_phone_is_not_found(
        self, server: LiveServer, http: httpx.Client, device: Device, phone: PairedDevice
    ) -> None:
        receive(server, device, "+32470000001", "private")
        intruder = server.create_account()
        response = http.get(
            "/getsms/", params={"apikey": intruder.api_key, "sIdentifiantPhone": phone.sid}
        )
        body = refused(response, 404, "not_found")
        assert "private" not in response.text
        unknown = http.get(
            "/getsms/", params={"apikey": intruder.api_key, "sIdentifiantPhone": "x" * 12}
        ).json()
        assert body["message"].replace(phone.sid, "") == unknown["message"].replace("x" * 12, "")


class TestAfterTimestamp:
    def test_only_sms_received_after_that_second_are_listed(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "+32470000001", "before", T0 - 1000)
        receive(server, device, "+32470000001", "same second", T0 + 999)
        receive(server, device, "+32470000001", "after", T0 + 1000)
        rows = getsms(http, account, after_timestamp_unix=str(T0 // 1000))
        assert [row["message"] for row in rows] == ["after"]

    def test_an_empty_value_is_no_filter(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "+32470000001", "hi")
        assert len(getsms(http, account, after_timestamp_unix="")) == 1

    @pytest.mark.parametrize(
        "value", ["abc", "1.5", "-1", "4102444801", "1e9", "12345678901234567890"]
    )
    def test_a_value_that_is_not_a_unix_time_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        response = http.get(
            "/getsms/", params={"apikey": account.api_key, "after_timestamp_unix": value}
        )
        body = refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "after_timestamp_unix"


class TestOnlyUnread:
    def test_yes_lists_only_the_sms_not_marked_as_read(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        read = receive(server, device, "+32470000001", "already seen", T0)
        receive(server, device, "+32470000001", "new", T0 + 1000)
        server.call(inbox.mark_read(server.ctx, account.id, read))
        assert [row["message"] for row in getsms(http, account, onlyunread="yes")] == ["new"]
        everything = getsms(http, account)
        assert [(row["message"], row["read"]) for row in everything] == [
            ("new", 0),
            ("already seen", 1),
        ]

    def test_an_empty_value_lists_read_and_unread(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        read = receive(server, device, "+32470000001", "seen")
        server.call(inbox.mark_read(server.ctx, account.id, read))
        assert len(getsms(http, account, onlyunread="")) == 1

    @pytest.mark.parametrize("value", ["no", "1", "true", "YES", "y"])
    def test_any_spelling_but_yes_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        response = http.get("/getsms/", params={"apikey": account.api_key, "onlyunread": value})
        body = refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "onlyunread"


class TestAccounts:
    def test_another_account_never_sees_these_sms(
        self, server: LiveServer, http: httpx.Client, device: Device
    ) -> None:
        receive(server, device, "+32470000001", "private")
        intruder = server.create_account()
        server.add_device(intruder)
        assert getsms(http, intruder) == []
        assert getsms(http, intruder, onlyunread="yes") == []
        assert getsms(http, intruder, after_timestamp_unix="0") == []

    def test_a_request_without_a_key_is_refused(self, http: httpx.Client) -> None:
        refused(http.get("/getsms/"), 400, "missing_apikey")

    def test_a_wrong_key_is_refused(self, http: httpx.Client) -> None:
        refused(http.get("/getsms/", params={"apikey": "nope"}), 403, "invalid_apikey")


class TestEngines:
    def test_the_same_answer_on_sqlite_and_postgresql(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        paired = server.add_device(account)
        device = device_of(server, paired)
        receive(server, device, "+32470000001", "middle", T0)
        receive(server, device, "+32470000001", "newest", T0 + 5000)
        seen = receive(server, device, "+32470000001", "oldest", T0 - 5000)
        server.call(inbox.mark_read(server.ctx, account.id, seen))
        with server.client() as http:
            assert [s["message"] for s in getsms(http, account)] == ["newest", "middle", "oldest"]
            only = getsms(http, account, onlyunread="yes", after_timestamp_unix=str(T0 // 1000))
            assert [s["message"] for s in only] == ["newest"]
            assert len(getsms(http, account, sIdentifiantPhone=paired.sid)) == 3
