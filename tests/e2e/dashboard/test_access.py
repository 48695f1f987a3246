"""The API access page in chromium: a key is created, shown once, works on the API, and is
refused the moment it is revoked in the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import accessibility_problems
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser


class TestApiKeys:
    def test_a_key_is_shown_once_works_and_is_refused_once_revoked(
        self, signed_in: Page, dash: LiveServer, shoot: Callable[[Page, str], list[Path]]
    ) -> None:
        page = signed_in
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        menu = page.get_by_role("navigation", name="Main")
        menu.get_by_role("link", name="API access").click()
        expect(page.get_by_role("heading", name="API access")).to_be_visible()
        keys = page.get_by_role("table", name="API keys")
        expect(keys.get_by_role("row")).to_have_count(2)  # the account's first key
        assert accessibility_problems(page) == []
        shoot(page, "before")

        page.get_by_label("Label").fill("shop server")
        page.get_by_label("Expires after (days)").fill("30")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_text("This is the only time it is shown.")).to_be_visible()
        key = page.get_by_label("Your new API key").input_value()
        assert re.fullmatch(r"[0-9a-f]{48}", key)
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == key
        assert accessibility_problems(page) == []
        shoot(page, "shown")

        with dash.client() as http:
            assert http.get("/log/sent/sms/", params={"apikey": key}).status_code == 200

        page.get_by_role("link", name="Back to API access").click()
        assert key not in page.content()
        row = keys.get_by_role("row").filter(has_text="shop server")
        expect(row).to_contain_text(key[:8])
        expect(row).to_contain_text("active")
        row.get_by_role("button", name="Revoke").click()
        expect(page.get_by_role("status")).to_contain_text("The key is revoked")
        expect(row).to_contain_text("revoked")
        expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        with dash.client() as http:
            refused = http.get("/log/sent/sms/", params={"apikey": key})
        assert refused.status_code == 403
        assert refused.json()["error"] == "invalid_apikey"
        assert accessibility_problems(page) == []
        shoot(page, "revoked")
