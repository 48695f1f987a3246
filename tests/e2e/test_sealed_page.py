"""The encrypted-message page: the recipient's browser decrypts with the key, or refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.contract import validate
from tests.support.browser import launch
from tests.support.server import Account

PLAINTEXT = "Gate code: 4711\nAsk for Zoë at the désk 🙂"


def seal(http: httpx.Client, account: Account, message: str = PLAINTEXT) -> dict[str, Any]:
    """Send an encrypted message; its ``result.encrypted`` (key and URL)."""
    response = http.post(
        "/sendsms/",
        data={
            "apikey": account.api_key,
            "recipients": "+32470123456",
            "message": message,
            "encrypt_message": "yes",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]["encrypted"]  # type: ignore[no-any-return]


class TestPageAndData:
    def test_the_page_is_self_contained_and_locked_down(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(seal(http, account)["url"])
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assert PLAINTEXT not in html
        assert not re.search(r"""(src|href)\s*=|<link|<iframe|@import|url\(""", html)
        assert "http://" not in html
        assert "https://" not in html
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"

    def test_the_data_holds_only_ciphertext_and_how_to_derive_the_key(
        self, http: httpx.Client, account: Account
    ) -> None:
        sealed = seal(http, account)
        response = http.get(sealed["url"] + "/data")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        data = response.json()
        code = sealed["url"].rsplit("/", 1)[1]
        assert data["code"] == code
        assert data["aad"] == f"simgate-sealed:v1:{code}"
        assert (data["kdf"], data["cipher"]) == ("PBKDF2-SHA256", "AES-256-GCM")
        assert data["iterations"] >= 200_000
        assert sealed["key"] not in response.text
        assert "4711" not in response.text

    @pytest.mark.parametrize("suffix", ["", "/data"])
    @pytest.mark.parametrize("code", ["AAAAAAAAAAAA", "short", "not*a*code*at*all"])
    def test_an_unknown_code_is_a_404(self, http: httpx.Client, code: str, suffix: str) -> None:
        response = http.get(f"/e/{code}{suffix}")
        assert response.status_code == 404
        body = response.json()
        validate(body, "simgate.Error")
        assert body["error"] == "not_found"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def unlock(page: Page, key: str) -> None:
    page.fill("#key", key)
    page.click("#decrypt")


@pytest.mark.browser
class TestDecryptingInTheBrowser:
    def test_the_right_key_shows_the_message(
        self, page: Page, http: httpx.Client, account: Account
    ) -> None:
        sealed = seal(http, account)
        problems: list[str] = []

        def note(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.append(message.text)

        page.on("console", note)
        page.goto(sealed["url"])
        expect(page.locator("#message")).to_be_hidden()
        unlock(page, sealed["key"])
        expect(page.locator("#message")).to_have_text(PLAINTEXT, use_inner_text=True)
        expect(page.locator("#status")).to_have_text("Message decrypted.")
        assert problems == []  # no blocked script or style: the CSP hashes match the page

    def test_a_wrong_key_is_refused_with_a_clear_message(
        self, page: Page, http: httpx.Client, account: Account
    ) -> None:
        sealed = seal(http, account)
        page.goto(sealed["url"])
        wrong = "abcdefghjk" if sealed["key"] != "abcdefghjk" else "kjhgfedcba"
        unlock(page, wrong)
        status = page.locator("#status")
        expect(status).to_have_text(re.compile(r"^Wrong key: the message could not be decrypted"))
        expect(status).to_have_class("error")
        expect(page.locator("#message")).to_be_hidden()
        assert "4711" not in page.content()
        unlock(page, sealed["key"])  # the recipient tries again with the right key
        expect(page.locator("#message")).to_have_text(PLAINTEXT, use_inner_text=True)

    def test_the_key_may_be_typed_in_capitals_with_spaces(
        self, page: Page, http: httpx.Client, account: Account
    ) -> None:
        sealed = seal(http, account, "See you at 8")
        key = sealed["key"]
        page.goto(sealed["url"])
        unlock(page, f" {key[:5].upper()} {key[5:]} ")
        expect(page.locator("#message")).to_have_text("See you at 8")

    def test_a_deleted_message_says_so(
        self, page: Page, http: httpx.Client, account: Account
    ) -> None:
        sealed = seal(http, account)
        page.goto(sealed["url"])
        guid = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()["result"][
            "sms"
        ][0]["guid"]
        deleted = http.get("/deletesms/", params={"apikey": account.api_key, "guid_message": guid})
        assert deleted.json()["deleted"] == 1
        unlock(page, sealed["key"])
        expect(page.locator("#status")).to_have_text(
            "This message does not exist or has been deleted."
        )
        expect(page.locator("#message")).to_be_hidden()
