"""The Webhooks page in chromium: add an endpoint (its secret shown once), send a test event,
and see it arrive, signed, at a small receiver on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import eventually
from tests.support.browser import accessibility_problems
from tests.support.server import LiveServer
from tests.webhooks.conftest import WEBHOOK_SETTINGS
from tests.webhooks.receiver import Receiver, verify

pytestmark = pytest.mark.browser


@pytest.fixture
def dash(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """The module's server, allowed to post to loopback (where the receiver listens)."""
    return shared_servers(**WEBHOOK_SETTINGS)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


class TestWebhooks:
    def test_a_new_endpoint_gets_a_signed_test_event(
        self,
        signed_in: Page,
        receiver: Receiver,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        expect(page.get_by_text("No endpoint yet.")).to_be_visible()
        assert accessibility_problems(page) == []
        shoot(page, "empty")

        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("SMS received by a phone").check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_role("heading", name="Webhook endpoint created")).to_be_visible()
        secret = page.get_by_label("Signing secret").input_value()
        assert secret.startswith("whsec_")
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        assert accessibility_problems(page) == []
        shoot(page, "secret")

        page.get_by_role("link", name="Go to the endpoint").click()
        expect(page.get_by_role("heading", name=receiver.url)).to_be_visible()
        assert secret not in page.content()  # shown once, never again
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_contain_text("A test event is on its way")
        log = page.get_by_role("table", name="Deliveries")
        # The log refreshes itself: the delivery turns delivered without a reload.
        expect(log.get_by_role("row").nth(1)).to_contain_text("delivered", timeout=15_000)
        expect(log.get_by_role("row").nth(1)).to_contain_text("HTTP 200")
        [hit] = eventually(receiver.snapshot)  # type: ignore[misc]
        envelope = verify(hit, secret)
        assert envelope["type"] == "sms.received"
        assert envelope["data"]["test"] is True
        assert accessibility_problems(page) == []
        shoot(page, "endpoint")

        page.get_by_role("link", name="Webhooks", exact=True).first.click()
        row = page.get_by_role("row").filter(has_text=receiver.url)
        expect(row).to_contain_text("sms.received")
        expect(row).to_contain_text("enabled")
        assert accessibility_problems(page) == []
        shoot(page, "list")
