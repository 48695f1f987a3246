"""Fixtures of the dashboard's browser tests: one chromium per module, a fresh page per test,
signed in by the form, and a screenshot helper named after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import launch, new_page, screenshot, sign_in
from tests.support.server import PASSWORD, Account, LiveServer


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A blank page with its own cookies."""
    with new_page(browser) as opened:
        yield opened


@pytest.fixture
def dash(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """A live server shared by the module's tests (each makes its own account)."""
    return shared_servers()


@pytest.fixture
def user(dash: LiveServer) -> Account:
    return dash.create_account()


@pytest.fixture
def signed_in(page: Page, dash: LiveServer, user: Account) -> Page:
    """``page`` signed in as ``user`` through the sign-in form, on the overview."""
    sign_in(page, dash.url, user.email, PASSWORD)
    return page


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Page, str], list[Path]]:
    """``shoot(page, step)``: screenshots ``<test>-<step>-<width>.png`` at 1280 and 390 px."""
    test = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")

    def take(page: Page, step: str = "") -> list[Path]:
        return screenshot(page, f"{test}-{step}" if step else test)

    return take
