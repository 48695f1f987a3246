"""The devices page in chromium: pair a real simulated phone from the pairing string shown,
see it online, rename it in place, set its limits, delete it after confirming."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from simgate.protocol import read_pairing
from tests.support.browser import accessibility_problems
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.browser


def pair_from_page(page: Page, label: str) -> str:
    """Add a device through the form; the pairing string the page shows."""
    page.get_by_label("Label", exact=True).fill(label)
    page.get_by_role("button", name="Add a device").click()
    expect(page.get_by_role("heading", name=f"Pair “{label}”")).to_be_visible()
    return page.get_by_label("Pairing string").input_value()


class TestPairing:
    def test_a_phone_paired_from_the_page_shows_online_with_its_details(
        self,
        signed_in: Page,
        dash: LiveServer,
        agents: Callable[..., RunningAgent],
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
        expect(page.get_by_role("heading", name="Devices", exact=True)).to_be_visible()
        string = pair_from_page(page, "Shop phone")
        command = page.get_by_label("Command on the phone").input_value()
        assert command == f"simgate agent --pair '{string}' --driver termux"
        expect(page.get_by_role("img", name="Pairing QR code")).to_be_visible()
        server, token = read_pairing(string)
        assert server == dash.url
        card = page.locator(".device", has_text="Shop phone")
        expect(card.locator(".badge")).to_have_text("offline")
        assert accessibility_problems(page) == []
        shoot(page, "pairing")

        agents(dash, token, battery=87, sims=[1, 2])  # the real agent, simulator driver
        page.goto(dash.url + "/dashboard/devices")
        card = page.locator(".device", has_text="Shop phone")
        expect(card.locator(".badge")).to_have_text("online")
        expect(card.get_by_text("87 %")).to_be_visible()
        expect(card.locator("dd", has_text=re.compile(r"^1, 2$"))).to_be_visible()
        expect(page.get_by_label("Pairing string")).to_have_count(0)  # shown once only
        assert accessibility_problems(page) == []
        shoot(page, "online")

        page.goto(dash.url + "/dashboard/")
        expect(page.locator("#phones-online")).to_have_text("1")


class TestEditing:
    def test_rename_in_place_set_limits_and_delete_after_confirming(
        self, signed_in: Page, dash: LiveServer, user: Account
    ) -> None:
        page = signed_in
        paired = dash.add_device(user, label="Old name")
        page.goto(dash.url + "/dashboard/devices")
        card = page.locator(f"#device-{paired.sid}")
        card.get_by_role("button", name="Rename Old name").click()
        field = card.get_by_label(f"Label of {paired.sid}")
        field.fill("Front desk")
        card.get_by_role("button", name="Save").click()
        expect(card.get_by_role("heading", name="Front desk")).to_be_visible()
        assert page.url == dash.url + "/dashboard/devices"  # edited in place, no navigation
        page.reload()
        expect(page.locator(f"#device-{paired.sid}").get_by_role("heading")).to_have_text(
            "Front desk"
        )

        card = page.locator(f"#device-{paired.sid}")
        card.get_by_text("Number and limits").click()
        card.get_by_label("Phone number").fill("0470 12 34 56")
        card.get_by_label("Per minute").fill("6")
        card.get_by_label("Per day").fill("500")
        card.get_by_role("button", name="Save").click()
        card = page.locator(f"#device-{paired.sid}")
        expect(card.locator("dd", has_text="+32470123456")).to_be_visible()
        expect(card.locator("dd", has_text="6/min, 500/day")).to_be_visible()

        card.get_by_role("link", name="Delete “Front desk”…").click()
        expect(page).to_have_url(re.compile(rf"/dashboard/devices/{paired.sid}/delete$"))
        assert accessibility_problems(page) == []
        page.get_by_role("button", name="Delete this device").click()
        expect(page).to_have_url(dash.url + "/dashboard/devices")
        expect(page.locator(f"#device-{paired.sid}")).to_have_count(0)
