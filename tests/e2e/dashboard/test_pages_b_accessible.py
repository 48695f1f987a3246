"""Every page of Inbox, Webhooks and API access, with data on it, at a laptop's and a phone's
width: no serious or critical axe-core violation, and nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from simgate.domain.webhooks import Format
from simgate.services import oauth, webhooks
from tests.support.api import T0, device_of, receive
from tests.support.browser import WIDTHS, accessibility_problems
from tests.support.server import Account, LiveServer
from tests.webhooks.conftest import WEBHOOK_SETTINGS

pytestmark = pytest.mark.browser

NUMBER = "+32470555111"


@pytest.fixture
def dash(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    return shared_servers(**WEBHOOK_SETTINGS)


def seed(dash: LiveServer, user: Account) -> int:
    """A thread both ways, a second thread with an alias, an endpoint with a log, a client;
    the endpoint's id."""
    device = device_of(dash, dash.add_device(user))
    receive(dash, device, NUMBER, "Do you deliver on Sundays? " * 4, at_ms=T0)
    receive(dash, device, "+32470555222", "A long message without spaces: " + "x" * 120)
    created = dash.call(
        webhooks.add_endpoint(dash.ctx, user.id, "http://127.0.0.1:9/a/long/path/hook", Format.V2)
    )
    dash.call(webhooks.send_test(dash.ctx, user.id, created.endpoint.id))
    dash.call(oauth.create_client(dash.ctx, user.email, "billing"))
    return created.endpoint.id


def check_page(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    assert accessibility_problems(page) == [], page.url
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at {width} px"


class TestAccessible:
    def test_every_page_at_both_widths(
        self,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        endpoint_id = seed(dash, user)
        paths = {
            "inbox": "/dashboard/inbox",
            "thread": f"/dashboard/inbox/{NUMBER}",
            "webhooks": "/dashboard/webhooks",
            "endpoint": f"/dashboard/webhooks/{endpoint_id}",
            "access": "/dashboard/access",
        }
        for name, path in paths.items():
            page.goto(dash.url + path)
            for width in WIDTHS:
                check_page(page, width)
            shoot(page, name)
        # The pages that only answer a form: a new key, a new client, a new endpoint.
        for button, name in (("Create key", "new-key"), ("Create client", "new-client")):
            page.goto(dash.url + "/dashboard/access")
            page.get_by_role("button", name=button).click()
            expect(page.get_by_text("This is the only time it is shown.")).to_be_visible()
            for width in WIDTHS:
                check_page(page, width)
            shoot(page, name)
        page.goto(dash.url + "/dashboard/webhooks")
        page.get_by_label("URL").fill("http://127.0.0.1:9/other")
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_label("Signing secret")).to_be_visible()
        for width in WIDTHS:
            check_page(page, width)
        shoot(page, "new-endpoint")
        # A refused form, with its error shown.
        page.goto(dash.url + "/dashboard/access")
        page.get_by_label("Label").fill("x" * 100)
        page.get_by_label("Expires after (days)").fill("0")
        page.get_by_label("Expires after (days)").evaluate("input => input.removeAttribute('min')")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_role("alert")).to_be_visible()
        for width in WIDTHS:
            check_page(page, width)
