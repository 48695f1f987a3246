"""The dashboard over real HTTP: another account's objects answer exactly like unknown ones,
pages send their security headers, and the overview counts what happened."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from simgate.services import overview as overview_service
from tests.support.api import device_of, receive, report_failed, report_sent, send_sms
from tests.support.server import Account, LiveServer
from tests.support.webforms import TOKEN, sign_in


def token_of(http: httpx.Client) -> str:
    found = TOKEN.search(http.get("/dashboard/").text)
    assert found
    return found.group(1)


@pytest.fixture
def live(shared_servers: Callable[..., LiveServer], engine: str) -> LiveServer:
    return shared_servers(engine=engine)


class TestOtherAccountsObjects:
    def test_a_message_of_another_account_is_a_404_like_an_unknown_one(
        self, live: LiveServer
    ) -> None:
        owner, other = live.create_account(), live.create_account()
        with live.client() as api:
            guid = send_sms(api, owner, recipients="+32470123456", message="Private")
        unknown = "0" * 40
        with live.client() as http:
            sign_in(http, other)
            token = token_of(http)
            for path in (f"/dashboard/messages/{guid}", f"/dashboard/messages/{guid}/story"):
                mine, theirs = http.get(path), http.get(path.replace(guid, unknown))
                assert mine.status_code == theirs.status_code == 404
                assert mine.text.replace(guid, unknown) == theirs.text
                assert "Private" not in mine.text
            for action in ("resend", "cancel"):
                answer = http.post(
                    f"/dashboard/messages/{guid}/{action}", data={"csrf_token": token}
                )
                assert answer.status_code == 404
            status = http.get("/dashboard/compose/status", params={"guid": guid})
            assert status.status_code == 200
            assert guid not in status.text
            assert "Private" not in http.get("/dashboard/sent").text
        with live.client() as http:  # and the owner still has it, queued, not cancelled
            sign_in(http, owner)
            page = http.get(f"/dashboard/messages/{guid}")
            assert page.status_code == 200
            assert 'id="state">queued<' in page.text

    def test_a_device_of_another_account_is_a_404_like_an_unknown_one(
        self, live: LiveServer
    ) -> None:
        owner, other = live.create_account(), live.create_account()
        paired = live.add_device(owner, label="Owner's phone")
        with live.client() as http:
            sign_in(http, other)
            token = token_of(http)
            for sid in (paired.sid, "f" * 16):
                assert http.get(f"/dashboard/devices/{sid}/label/edit").status_code == 404
                assert http.get(f"/dashboard/devices/{sid}/delete").status_code == 404
                for path, data in (
                    (f"/dashboard/devices/{sid}/label", {"label": "mine now"}),
                    (f"/dashboard/devices/{sid}/settings", {"rate_per_minute": "1"}),
                    (f"/dashboard/devices/{sid}/delete", {}),
                ):
                    answer = http.post(path, data={**data, "csrf_token": token})
                    assert answer.status_code == 404, path
        with live.client() as http:
            sign_in(http, owner)
            page = http.get("/dashboard/devices").text
            assert "Owner&#39;s phone" in page
            assert "mine now" not in page


class TestPages:
    def test_pages_are_locked_down_and_never_cached(self, live: LiveServer) -> None:
        with live.client() as http:
            sign_in(http, live.create_account())
            for path in (
                "/dashboard/",
                "/dashboard/devices",
                "/dashboard/compose",
                "/dashboard/sent",
                "/dashboard/login",
            ):
                answer = http.get(path, follow_redirects=True)
                assert answer.status_code == 200, path
                policy = answer.headers["content-security-policy"]
                assert "script-src 'self'" in policy
                assert "unsafe-inline" not in policy
                assert "frame-ancestors 'none'" in policy
                assert answer.headers["cache-control"] == "no-store"
                assert not re.search(r"""(src|href)=["']https?://""", answer.text)

    def test_a_bad_filter_is_a_400_page_not_a_500(self, live: LiveServer) -> None:
        with live.client() as http:
            sign_in(http, live.create_account())
            for query in ("status=nonsense", "from=yesterday", "before=" + "1" * 40):
                answer = http.get("/dashboard/sent?" + query)
                assert answer.status_code in (400, 404), query
                assert answer.headers["content-type"].startswith("text/html")

    def test_the_overview_counts_today_queue_and_failures(self, live: LiveServer) -> None:
        account: Account = live.create_account()
        paired = live.add_device(account)
        device = device_of(live, paired)
        with live.client() as api:
            sent = send_sms(api, account, recipients="+32470000001", message="one")
            also_sent = send_sms(api, account, recipients="+32470000005", message="one more")
            failed = send_sms(api, account, recipients="+32470000002", message="two")
            send_sms(api, account, recipients="+32470000003", message="three")  # stays queued
        report_sent(live, device, sent)
        report_sent(live, device, also_sent)
        report_failed(live, device, failed, "no credit")
        receive(live, device, "+32470000009", "hello back", at_ms=live.ctx.clock())
        with live.client() as http:
            sign_in(http, account)
            page = http.get("/dashboard/").text
        figures = dict(re.findall(r'id="([a-z-]+)">(\d+)<', page))
        assert figures == {
            "phones-online": "0",
            "sent-today": "2",
            "failed-today": "1",
            "received-today": "1",
            "queue-depth": "1",
        }
        assert "no credit" in page
        assert "<svg" in page
        assert "Over 30 days: 2 sent, 1 failed, 1 received." in page


class TestOverviewDays:
    def test_days_are_local_days_across_a_change_of_clocks(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        live = shared_servers(engine=engine, timezone="Europe/Brussels")
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        zone = ZoneInfo("Europe/Brussels")

        def at(*parts: int) -> int:
            return int(datetime(*parts, tzinfo=zone).timestamp() * 1000)  # type: ignore[misc]

        # 25 October 2026 lasts 25 hours in Brussels: both ends of it are that day.
        moments = [at(2026, 10, 25, 0, 30), at(2026, 10, 25, 23, 30), at(2026, 10, 26, 0, 10)]
        with live.client() as api:
            for moment in moments:
                live.ctx.clock = lambda moment=moment: moment  # type: ignore[misc]
                guid = send_sms(api, account, recipients="+32470000001", message="x")
                report_failed(live, device, guid, "no credit")
        live.ctx.clock = lambda: at(2026, 11, 5, 12, 0)
        found = live.call(
            overview_service.overview(live.ctx, account.id, live.app.state.dispatcher)
        )
        failed = {day.day.isoformat(): day.failed for day in found.days if day.failed}
        assert failed == {"2026-10-25": 2, "2026-10-26": 1}
        assert found.days[-1].day.isoformat() == "2026-11-05"
