"""``/log/sent/frommobile/``: the SMS typed on the phones themselves, over the last 7 days."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from simgate.protocol import format_phone_time
from simgate.services import mobile_sent
from simgate.services.devices import Device
from simgate.services.mobile_sent import MobileSent
from tests.conftest import eventually
from tests.contract import validate
from tests.support.api import T0, device_of, refused
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer, PairedDevice

HOUR = 3600 * 1000
DAY = 24 * HOUR


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def utc_midnight_today() -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp() * 1000)


def typed(
    server: LiveServer,
    device: Device,
    number: str = "+32470000001",
    text: str = "hello",
    *,
    at_ms: int | None = None,
    formatted: str = "",
    synchro_ms: int | None = None,
) -> None:
    """Store an SMS as a ``mobile_sent`` frame would; ``synchro_ms`` fakes when it arrived."""
    ctx = server.ctx
    if synchro_ms is not None:
        ctx = dataclasses.replace(ctx, clock=lambda: synchro_ms)
    sms = MobileSent(
        frame_id=uuid.uuid4().hex,
        number=number,
        text=text,
        at_ms=now_ms() if at_ms is None else at_ms,
        formatted=formatted,
    )
    server.call(mobile_sent.record(ctx, device, sms))


def listing(http: httpx.Client, account: Account, **params: str) -> list[dict[str, Any]]:
    response = http.get("/log/sent/frommobile/", params={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "simgate.FromMobile")
    assert body["success"] is True
    assert body["count"] == len(body["data"])
    return body["data"]  # type: ignore[no-any-return]


def texts(http: httpx.Client, account: Account, **params: str) -> list[str]:
    return [row["message"] for row in listing(http, account, **params)]


def assert_refused(
    http: httpx.Client, account: Account, parameter: str, value: str, *, status: int = 400
) -> None:
    response = http.get(
        "/log/sent/frommobile/", params={"apikey": account.api_key, parameter: value}
    )
    if status == 400:
        refused(response, status, "invalid_parameter", parameter)
    else:
        refused(response, status, "not_found")


class TestListing:
    def test_an_account_without_any_gets_an_empty_list(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get("/log/sent/frommobile/", params={"apikey": account.api_key})
        assert response.json() == {"success": True, "count": 0, "data": []}

    def test_an_sms_typed_on_a_real_phone_is_listed_with_every_field(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        agents: Callable[..., RunningAgent],
    ) -> None:
        agent = agents(server, phone.token)
        at = now_ms() - 5000
        before = datetime.now(UTC).replace(microsecond=0)
        agent.do(lambda: agent.driver.inject_mobile_sent("0470 00 00 01", "On my way", at_ms=at))
        [row] = eventually(lambda: listing(http, account))  # type: ignore[misc]
        assert row["sIdentifiant"] == phone.sid
        assert row["number"] == "+32470000001"
        assert row["message"] == "On my way"
        assert row["mobile_date_ms"] == at
        assert row["mobile_date_formatted"] == format_phone_time(at)
        synchro = datetime.strptime(row["synchro_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert before <= synchro <= datetime.now(UTC)

    def test_the_synchro_time_is_shown_in_the_configured_zone(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(timezone="Asia/Tokyo")
        account = server.create_account()
        device = device_of(server, server.add_device(account))
        synchro = now_ms() - HOUR
        typed(server, device, synchro_ms=synchro)
        with server.client() as http:
            [row] = listing(http, account)
        expected = datetime.fromtimestamp(synchro / 1000, UTC) + timedelta(hours=9)
        assert row["synchro_time"] == expected.strftime("%Y-%m-%d %H:%M:%S")

    def test_a_missing_formatted_date_is_rendered_by_the_server(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        at = utc_midnight_today() + 1000
        typed(server, device, at_ms=at, formatted="")
        [row] = listing(http, account)
        expected = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert row["mobile_date_formatted"] == expected

    def test_by_default_the_most_recently_sent_comes_first(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        now = now_ms()
        typed(server, device, text="middle", at_ms=now - 2 * HOUR)
        typed(server, device, text="newest", at_ms=now - HOUR)
        typed(server, device, text="oldest", at_ms=now - 3 * HOUR)
        assert texts(http, account) == ["newest", "middle", "oldest"]

    @pytest.mark.parametrize("path", ["/log/sent/frommobile", "/log/sent/frommobile/"])
    def test_a_post_form_works_on_either_path(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device, path: str
    ) -> None:
        typed(server, device)
        response = http.post(path, data={"apikey": account.api_key})
        assert response.status_code == 200
        assert response.json()["count"] == 1


class TestSevenDayWindow:
    def test_rows_synchronised_more_than_7_days_ago_are_never_listed(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        old = now_ms() - 8 * DAY
        typed(server, device, text="ancient", at_ms=old, synchro_ms=old)
        typed(
            server, device, text="recent", at_ms=now_ms() - 6 * DAY, synchro_ms=now_ms() - 6 * DAY
        )
        old_day = datetime.fromtimestamp(old / 1000, UTC).strftime("%Y-%m-%d")
        assert texts(http, account) == ["recent"]
        assert texts(http, account, date=old_day) == []
        assert texts(http, account, date_from=old_day) == ["recent"]
        assert texts(http, account, search="ancient") == []
        assert texts(http, account, message="ancient") == []
        assert texts(http, account, sort_by="synchro_time", sort_order="ASC") == ["recent"]

    def test_the_window_follows_the_synchro_time_not_the_sending_time(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        """A phone that was offline for two weeks reports late: its SMS are listed."""
        typed(server, device, text="late sync", at_ms=now_ms() - 14 * DAY)
        assert texts(http, account) == ["late sync"]


class TestDateFilters:
    def test_date_keeps_the_sms_sent_that_day(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        typed(server, device, text="13th", at_ms=T0)
        typed(server, device, text="12th", at_ms=T0 - DAY)
        typed(server, device, text="14th", at_ms=T0 + DAY)
        assert texts(http, account, date="2026-03-13") == ["13th"]

    def test_date_from_and_date_to_are_inclusive_days(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        for day in range(10, 17):
            typed(server, device, text=f"{day}th", at_ms=T0 + (day - 13) * DAY)
        assert texts(http, account, date_from="2026-03-14") == ["16th", "15th", "14th"]
        assert texts(http, account, date_to="2026-03-11") == ["11th", "10th"]
        window = texts(http, account, date_from="2026-03-12", date_to="2026-03-13")
        assert window == ["13th", "12th"]

    def test_days_are_read_in_the_configured_zone(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(timezone="Europe/Brussels")
        account = server.create_account()
        device = device_of(server, server.add_device(account))
        # 23:30 UTC on the 12th is 00:30 on the 13th in Brussels.
        late = int(datetime(2026, 3, 12, 23, 30, tzinfo=UTC).timestamp() * 1000)
        typed(server, device, text="just after midnight", at_ms=late)
        with server.client() as http:
            assert texts(http, account, date="2026-03-13") == ["just after midnight"]
            assert texts(http, account, date="2026-03-12") == []

    def test_filters_combine(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        typed(server, device, text="13th", at_ms=T0)
        typed(server, device, text="14th", at_ms=T0 + DAY)
        assert texts(http, account, date="2026-03-13", date_from="2026-03-14") == []
        assert texts(http, account, date="2026-03-14", date_to="2026-03-20") == ["14th"]

    @pytest.mark.parametrize("parameter", ["date", "date_from", "date_to"])
    @pytest.mark.parametrize(
        "value", ["2026-3-13", "13/03/2026", "20260313", "2026-02-30", "2026-13-01", "today"]
    )
    def test_a_value_that_is_not_a_yyyy_mm_dd_date_is_refused(
        self, http: httpx.Client, account: Account, parameter: str, value: str
    ) -> None:
        assert_refused(http, account, parameter, value)

    def test_date_to_before_date_from_is_refused(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(
            "/log/sent/frommobile/",
            params={"apikey": account.api_key, "date_from": "2026-03-14", "date_to": "2026-03-13"},
        )
        assert response.status_code == 400
        assert response.json()["parameter"] == "date_to"

    def test_empty_dates_are_no_filter(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        typed(server, device)
        assert len(listing(http, account, date="", date_from="", date_to="", period="")) == 1


class TestPeriod:
    @pytest.fixture
    def spread(self, server: LiveServer, device: Device) -> None:
        """One SMS early today, one yesterday, and one at each edge of the rolling periods."""
        now = now_ms()
        midnight = utc_midnight_today()
        typed(server, device, text="early today", at_ms=midnight + 1000)
        typed(server, device, text="yesterday", at_ms=midnight - HOUR)
        typed(server, device, text="23h ago", at_ms=now - 23 * HOUR)
        typed(server, device, text="25h ago", at_ms=now - 25 * HOUR)
        typed(server, device, text="71h ago", at_ms=now - 71 * HOUR)
        typed(server, device, text="73h ago", at_ms=now - 73 * HOUR)
        typed(server, device, text="6 days ago", at_ms=now - 6 * DAY)
        typed(server, device, text="8 days ago", at_ms=now - 8 * DAY)

    @pytest.mark.usefixtures("spread")
    def test_today_and_yesterday_are_calendar_days(
        self, http: httpx.Client, account: Account
    ) -> None:
        today = set(texts(http, account, period="today"))
        yesterday = set(texts(http, account, period="yesterday"))
        assert "early today" in today
        assert "yesterday" not in today
        assert "yesterday" in yesterday
        assert "early today" not in yesterday
        assert not today & yesterday

    @pytest.mark.usefixtures("spread")
    @pytest.mark.parametrize(
        ("period", "inside", "outside"),
        [
            ("last_24h", "23h ago", "25h ago"),
            ("last_3days", "71h ago", "73h ago"),
            ("last_7days", "6 days ago", "8 days ago"),
        ],
    )
    def test_rolling_periods_reach_back_from_now(
        self, http: httpx.Client, account: Account, period: str, inside: str, outside: str
    ) -> None:
        listed = texts(http, account, period=period)
        assert inside in listed
        assert outside not in listed

    @pytest.mark.parametrize("value", ["TODAY", "last_week", "last_7_days", "1"])
    def test_an_undocumented_period_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "period", value)


class TestTextFilters:
    @pytest.mark.parametrize(
        "spelling", ["+32470000001", "32470000001", "0470 00 00 01", "+32 470 00 00 01"]
    )
    def test_a_full_number_matches_in_any_spelling(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        device: Device,
        spelling: str,
    ) -> None:
        typed(server, device, "+32470000001", "to Ann")
        typed(server, device, "+32470000002", "to Bob")
        assert texts(http, account, number=spelling) == ["to Ann"]

    def test_a_partial_number_matches_as_a_substring(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        typed(server, device, "+32470000001", "to Ann", at_ms=T0)
        typed(server, device, "+33612345678", "to Zoe", at_ms=T0 + 1)
        typed(server, device, "MyBank", "to the bank", at_ms=T0 + 2)
        assert texts(http, account, number="3247") == ["to Ann"]
        assert texts(http, account, number="bank") == ["to the bank"]

    def test_sidentifiant_keeps_one_phones_sms(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        other = server.add_device(account, "second")
        typed(server, device, text="from the first")
        typed(server, device_of(server, other), text="from the second")
        rows = listing(http, account, sIdentifiant=other.sid)
        assert [(row["message"], row["sIdentifiant"]) for row in rows] == [
            ("from the second", other.sid)
        ]

    def test_an_unknown_sidentifiant_is_not_found(
        self, http: httpx.Client, account: Account
    ) -> None:
        assert_refused(http, account, "sIdentifiant", "nope", status=404)

    def test_message_matches_part_of_the_text_whatever_the_case(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        typed(server, device, text="Meeting at NOON", at_ms=T0)
        typed(server, device, text="Call me", at_ms=T0 + 1)
        typed(server, device, text="100% sure", at_ms=T0 + 2)
        assert texts(http, account, message="noon") == ["Meeting at NOON"]
        assert texts(http, account, message="%") == ["100% sure"]
        assert texts(http, account, message="_") == []

    def test_search_looks_in_every_returned_field(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        device: Device,
        phone: PairedDevice,
    ) -> None:
        four_days_ago = now_ms() - 4 * DAY
        typed(server, device, "+32470000001", "alpha", at_ms=T0, formatted="13/03 09:45")
        typed(server, device, "+33612345678", "beta", at_ms=T0 + 1, formatted="13/03 09:46")
        typed(
            server,
            device,
            "+32470000002",
            "gamma",
            at_ms=T0 + 2,
            formatted="13/03 09:47",
            synchro_ms=four_days_ago,
        )
        synchro_day = datetime.fromtimestamp(four_days_ago / 1000, UTC).strftime("%Y-%m-%d")
        assert texts(http, account, search="ALPHA") == ["alpha"]
        assert texts(http, account, search="3361") == ["beta"]
        assert texts(http, account, search="09:47") == ["gamma"]
        assert texts(http, account, search=synchro_day) == ["gamma"]
        assert len(texts(http, account, search=phone.sid)) == 3
        assert texts(http, account, search="nothing like this") == []

    def test_search_combines_with_the_other_filters_and_the_limit(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        for index in range(5):
            typed(server, device, text=f"note {index}", at_ms=T0 + index)
        typed(server, device, text="other", at_ms=T0 + 10)
        listed = texts(http, account, search="note", limit="2", sort_order="ASC")
        assert listed == ["note 0", "note 1"]


class TestSorting:
    @pytest.fixture
    def rows(self, server: LiveServer, account: Account, device: Device) -> dict[str, str]:
        second = device_of(server, server.add_device(account, "second"))
        now = now_ms()
        typed(
            server,
            device,
            "+32470000003",
            "bravo",
            at_ms=T0 + 2,
            formatted="b",
            synchro_ms=now - 3 * HOUR,
        )
        typed(
            server,
            second,
            "+32470000001",
            "charlie",
            at_ms=T0 + 1,
            formatted="a",
            synchro_ms=now - 1 * HOUR,
        )
        typed(
            server,
            device,
            "+32470000002",
            "alpha",
            at_ms=T0 + 3,
            formatted="c",
            synchro_ms=now - 2 * HOUR,
        )
        return {"device": device.sid, "second": second.sid}

    @pytest.mark.parametrize(
        ("sort_by", "ascending"),
        [
            ("number", ["charlie", "alpha", "bravo"]),
            ("message", ["alpha", "bravo", "charlie"]),
            ("mobile_date_ms", ["charlie", "bravo", "alpha"]),
            ("mobile_date_formatted", ["charlie", "bravo", "alpha"]),
            ("synchro_time", ["bravo", "alpha", "charlie"]),
        ],
    )
    def test_each_documented_field_sorts_both_ways(
        self,
        http: httpx.Client,
        account: Account,
        rows: dict[str, str],
        sort_by: str,
        ascending: list[str],
    ) -> None:
        assert texts(http, account, sort_by=sort_by, sort_order="ASC") == ascending
        assert texts(http, account, sort_by=sort_by, sort_order="DESC") == ascending[::-1]
        assert texts(http, account, sort_by=sort_by) == ascending[::-1]

    def test_sidentifiant_sorts_by_phone(
        self, http: httpx.Client, account: Account, rows: dict[str, str]
    ) -> None:
        listed = listing(http, account, sort_by="sIdentifiant", sort_order="ASC")
        sids = [row["sIdentifiant"] for row in listed]
        assert sids == sorted(sids)

    @pytest.mark.parametrize("spelling", ["asc", "Asc"])
    def test_the_order_is_read_whatever_its_case(
        self, http: httpx.Client, account: Account, rows: dict[str, str], spelling: str
    ) -> None:
        listed = texts(http, account, sort_by="message", sort_order=spelling)
        assert listed == ["alpha", "bravo", "charlie"]

    @pytest.mark.parametrize("value", ["date", "synchro_ms", "Number", "id"])
    def test_an_undocumented_sort_field_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "sort_by", value)

    @pytest.mark.parametrize("value", ["up", "ascending", "1", "ASC DESC"])
    def test_an_undocumented_sort_order_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "sort_order", value)


class TestLimit:
    def test_limit_keeps_the_first_rows_in_the_chosen_order(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        for index in range(3):
            typed(server, device, text=f"sms {index}", at_ms=T0 + index)
        assert texts(http, account, limit="2") == ["sms 2", "sms 1"]

    def test_without_a_limit_at_most_200_rows_are_returned(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        async def fill() -> None:
            for index in range(201):
                sms = MobileSent(
                    frame_id=f"f{index}",
                    number="+32470000001",
                    text=f"sms {index}",
                    at_ms=T0 + index,
                    formatted="",
                )
                await mobile_sent.record(server.ctx, device, sms)

        server.call(fill(), timeout=60)
        listed = texts(http, account)
        assert len(listed) == 200
        assert listed[0] == "sms 200"
        assert len(texts(http, account, limit="200")) == 200

    @pytest.mark.parametrize("value", ["201", "0", "-1", "ten", "2.5"])
    def test_a_limit_that_is_not_1_to_200_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "limit", value)


class TestAccounts:
    def test_another_account_never_sees_these_rows(
        self, server: LiveServer, http: httpx.Client, device: Device
    ) -> None:
        typed(server, device, text="private")
        intruder = server.create_account()
        server.add_device(intruder)
        assert listing(http, intruder) == []
        assert listing(http, intruder, search="private") == []
        assert listing(http, intruder, period="today") == []

    def test_another_accounts_phone_is_not_found(
        self, server: LiveServer, http: httpx.Client, phone: PairedDevice, device: Device
    ) -> None:
        typed(server, device, text="private")
        intruder = server.create_account()
        response = http.get(
            "/log/sent/frommobile/",
            params={"apikey": intruder.api_key, "sIdentifiant": phone.sid},
        )
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert "private" not in response.text

    def test_a_request_without_a_key_is_refused(self, http: httpx.Client) -> None:
        response = http.get("/log/sent/frommobile/")
        assert response.status_code == 400
        assert response.json()["error"] == "missing_apikey"


class TestEngines:
    def test_the_same_answer_on_sqlite_and_postgresql(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        device = device_of(server, server.add_device(account))
        old = now_ms() - 8 * DAY
        typed(server, device, "+32470000001", "Ancient", at_ms=T0, synchro_ms=old)
        typed(server, device, "+32470000001", "Bravo 50%", at_ms=T0 + 1)
        typed(server, device, "+33612345678", "alpha", at_ms=T0 + 2)
        typed(server, device, "+32470000002", "charlie", at_ms=T0 + DAY)
        with server.client() as http:
            assert texts(http, account) == ["charlie", "alpha", "Bravo 50%"]
            assert texts(http, account, date="2026-03-13", sort_by="number") == [
                "alpha",
                "Bravo 50%",
            ]
            assert texts(http, account, number="0470000001") == ["Bravo 50%"]
            assert texts(http, account, number="336") == ["alpha"]
            assert texts(http, account, message="BRAVO") == ["Bravo 50%"]
            assert texts(http, account, message="%") == ["Bravo 50%"]
            assert texts(http, account, search="CHAR", limit="1") == ["charlie"]
            assert texts(http, account, sort_by="mobile_date_ms", sort_order="asc", limit="2") == [
                "Bravo 50%",
                "alpha",
            ]
