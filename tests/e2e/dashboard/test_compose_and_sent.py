"""Compose, Sent and the message page in chromium, with a real simulated phone: a message sent
from the form turns "sent" in place, the counter agrees with the server's segment rules, the
list filters and pages, a failed message is resent and a scheduled one cancelled."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from simgate.domain.segments import count_segments
from tests.support.api import device_of, report_failed
from tests.support.browser import accessibility_problems
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.browser

TEXTS = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "€" * 80,  # extension characters: two septets each, exactly one SMS
    "€" * 81,
    "Price: 10 € [promo] {code} ~ ^ | \\",
    "Zoë's café",  # ë is not GSM-7: UCS-2
    "é" * 160,  # é is GSM-7
    "🙂" * 35,  # surrogate pairs: 70 code units, one SMS
    "🙂" * 36,
    "x" * 66 + "🙂" + "y" * 10,  # a pair is not cut between parts
    "line one\nline two\r\nthree",
    "ç",  # lower-case ç is not in the GSM-7 table (only Ç)
]


class TestCounter:
    def test_the_counter_agrees_with_the_server_rules(
        self, signed_in: Page, dash: LiveServer
    ) -> None:
        page = signed_in
        page.goto(dash.url + "/dashboard/compose")
        for text in TEXTS:
            got = page.evaluate("text => window.simgateSegments(text)", text)
            want = count_segments(text)
            assert (got["encoding"], got["parts"], got["units"]) == (
                want.encoding,
                want.parts,
                want.units,
            ), text

    def test_the_counter_follows_typing(self, signed_in: Page, dash: LiveServer) -> None:
        page = signed_in
        page.goto(dash.url + "/dashboard/compose")
        counter = page.locator("#counter")
        page.get_by_label("Message", exact=True).fill("a" * 161)
        expect(counter).to_have_text("161 characters · GSM-7 · 161/306 · 2 SMS")
        page.get_by_label("Message", exact=True).fill("Zoë")
        expect(counter).to_have_text("3 characters · UCS-2 · 3/70 · 1 SMS")


class TestSending:
    def test_a_message_sent_from_compose_turns_sent_without_reloading(
        self,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        agents: Callable[..., RunningAgent],
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        paired = dash.add_device(user, label="Counter phone")
        page.goto(dash.url + "/dashboard/compose")
        assert accessibility_problems(page) == []
        shoot(page, "form")
        page.get_by_label("Recipients", exact=True).fill(
            "+32470123456, 0470 99 88 77, not-a-number"
        )
        page.get_by_label("Message", exact=True).fill("Your order is ready")
        page.get_by_label("Device").select_option(label="Counter phone (offline)")
        page.get_by_role("button", name="Send", exact=True).click()
        result = page.locator("#result")
        expect(result.locator(".ok")).to_have_text("2 messages accepted, 1 number refused.")
        badges = result.locator(".badge")
        expect(badges).to_have_text(["queued", "queued"])
        marker = page.evaluate("() => (window.__marker = Math.random())")  # dies on a reload
        agent = agents(dash, paired.token)
        expect(badges).to_have_text(["sent", "sent"], timeout=15_000)
        assert page.evaluate("() => window.__marker") == marker  # the page was not reloaded
        assert page.url == dash.url + "/dashboard/compose"
        assert sorted(entry.to for entry in agent.driver.transmitted) == [
            "+32470123456",
            "+32470998877",
        ]
        assert accessibility_problems(page) == []
        shoot(page, "sent")

        result.get_by_role("link", name="+32470998877").click()
        expect(page.locator("#state")).to_have_text("sent")
        steps = page.locator(".steps li")
        expect(steps).to_have_count(3)
        expect(steps.nth(1)).to_contain_text(f"Handed to phone {paired.sid}")
        expect(steps.nth(2)).to_contain_text("Sent")
        assert accessibility_problems(page) == []
        shoot(page, "message")

    def test_a_wrong_form_says_why_in_place(self, signed_in: Page, dash: LiveServer) -> None:
        page = signed_in
        page.goto(dash.url + "/dashboard/compose")
        page.get_by_label("Recipients", exact=True).fill("nonsense")
        page.get_by_label("Message", exact=True).fill("Hello")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#result .error")).to_contain_text("not part of a phone number")
        expect(page.get_by_label("Message", exact=True)).to_have_value(
            "Hello"
        )  # nothing typed is lost


class TestSentList:
    def test_filters_paging_resend_and_cancel(
        self,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        paired = dash.add_device(user, label="Shelf phone")
        with dash.client() as http:
            for index in range(55):
                answer = http.post(
                    "/sendsms/",
                    data={
                        "apikey": user.api_key,
                        "recipients": "+32470000001" if index % 5 else "+32470000002",
                        "message": f"Batch message {index}",
                    },
                )
                assert answer.status_code == 200
            later = http.post(
                "/sendsms/",
                data={
                    "apikey": user.api_key,
                    "recipients": "+32470000003",
                    "message": "Tomorrow's reminder",
                    "schedule_timestamp": "4070941200",  # 2099
                },
            )
            assert later.status_code == 200, later.text
            failing = http.post(
                "/sendsms/",
                data={
                    "apikey": user.api_key,
                    "recipients": "+32470000004",
                    "message": "This one fails",
                    "sIdentifiantPhone": paired.sid,
                },
            ).json()["result"]["id"]
        report_failed(dash, device_of(dash, paired), failing, "no credit")

        page.goto(dash.url + "/dashboard/sent")
        rows = page.locator("#sent-rows tr")
        expect(rows).to_have_count(50)
        assert accessibility_problems(page) == []
        shoot(page, "list")
        page.get_by_role("link", name="Older messages").click()
        expect(rows).to_have_count(7)
        expect(rows.last).to_contain_text("Batch message 0")

        page.goto(dash.url + "/dashboard/sent")
        page.get_by_label("Number").fill("+32470000002")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(11)
        page.get_by_label("Text").fill("message 5")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(2)  # 5 and 50 (to ...02); 51-54 go to ...01
        expect(rows.first).to_contain_text("Batch message 50")

        page.goto(dash.url + "/dashboard/sent")
        page.get_by_label("Status").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        rows.first.get_by_role("link").click()
        expect(page.locator("#state")).to_have_text("failed")
        expect(page.locator(".steps li").last).to_contain_text("Failed: no credit")
        page.get_by_role("button", name="Resend").click()
        expect(page.locator("#state")).to_have_text("queued")
        expect(page.get_by_role("button", name="Resend")).to_have_count(0)

        page.goto(dash.url + "/dashboard/sent?status=scheduled")
        page.locator("#sent-rows").get_by_role("link", name=re.compile("Tomorrow")).click()
        expect(page.locator(".steps li").first).to_contain_text("Accepted")
        page.get_by_role("button", name="Cancel sending").click()
        expect(page.locator("#state")).to_have_text("cancelled")
        assert accessibility_problems(page) == []
