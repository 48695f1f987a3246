"""First-run setup and signing in, as a person does it in chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import accessibility_problems
from tests.support.server import PASSWORD, Account, LiveServer

pytestmark = pytest.mark.browser

NAV_NAMES = ["Overview", "Devices", "Compose", "Sent", "Inbox", "Webhooks", "API access"]


class TestFirstRun:
    def test_the_first_visitor_creates_the_account_and_is_signed_in(
        self,
        page: Page,
        server_factory: Callable[..., LiveServer],
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        live = server_factory()
        page.goto(live.url + "/")
        expect(page).to_have_url(live.url + "/dashboard/setup")
        expect(page.get_by_role("heading", name="Set up simgate")).to_be_visible()
        assert accessibility_problems(page) == []
        shoot(page, "setup")
        page.get_by_label("E-mail").fill("owner@example.test")
        page.get_by_label("Password", exact=True).fill("a long enough one")
        page.get_by_label("Password again").fill("a long enough one")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Your account is ready")).to_be_visible()
        key = page.get_by_label("Your first API key").input_value()
        assert re.fullmatch(r"[0-9a-f]{48}", key)
        assert accessibility_problems(page) == []
        shoot(page, "welcome")
        page.get_by_role("link", name="Go to the overview").click()
        expect(page).to_have_url(live.url + "/dashboard/")
        with live.client() as http:  # the key works on the API
            answer = http.get("/log/sent/sms/", params={"apikey": key})
            assert answer.status_code == 200
            assert http.get(live.url + "/dashboard/setup").status_code == 404


class TestSignIn:
    def test_signing_in_by_the_labelled_form_shows_the_menu(
        self,
        page: Page,
        dash: LiveServer,
        user: Account,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page.goto(dash.url + "/dashboard/devices")
        expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard/devices$"))
        assert accessibility_problems(page) == []
        shoot(page, "form")
        page.get_by_label("E-mail").fill(user.email)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
        expect(page.get_by_label("E-mail")).to_have_value(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(dash.url + "/dashboard/devices")
        menu = page.get_by_role("navigation", name="Main")
        expect(menu.get_by_role("link")).to_have_text([*NAV_NAMES, user.email])
        expect(menu.get_by_role("link", name="Devices")).to_have_attribute("aria-current", "page")

    def test_on_a_phone_the_menu_folds_behind_a_button(
        self, signed_in: Page, shoot: Callable[[Page, str], list[Path]]
    ) -> None:
        page = signed_in
        page.set_viewport_size({"width": 390, "height": 800})
        menu = page.get_by_role("navigation", name="Main")
        button = page.get_by_role("button", name="Menu")
        expect(menu).to_be_hidden()
        expect(button).to_have_attribute("aria-expanded", "false")
        button.click()
        expect(menu).to_be_visible()
        expect(button).to_have_attribute("aria-expanded", "true")
        menu.get_by_role("link", name="Compose").click()
        expect(page).to_have_url(re.compile(r"/dashboard/compose$"))
        page.set_viewport_size({"width": 1280, "height": 800})
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    def test_signing_out_returns_to_the_form(self, signed_in: Page, dash: LiveServer) -> None:
        page = signed_in
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(dash.url + "/dashboard/login")
        page.goto(dash.url + "/dashboard/")
        expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard/$"))
