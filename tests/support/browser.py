"""Driving the dashboard in Debian's chromium: launching it, signing in by the form, screenshots
at a laptop's and a phone's width, and an axe-core accessibility check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: A laptop and a phone (an iPhone 12-15's CSS width).
WIDTHS = (1280, 390)


def launch(playwright: Playwright) -> Browser:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def new_page(browser: Browser, width: int = WIDTHS[0]) -> Iterator[Page]:
    """A page in a fresh context (its own cookies), closed afterwards."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def sign_in(
    page: Page, base_url: str, email: str, password: str, path: str = "/dashboard/"
) -> None:
    """Sign in through the labelled form, as a person would, and land on ``path``."""
    page.goto(base_url + path)
    expect(page).to_have_url(re.compile(r"/dashboard/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base_url + path)


def screenshot(page: Page, name: str) -> list[Path]:
    """Save the page at each width of :data:`WIDTHS` as ``<name>-<width>.png`` (full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    original = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    if original is not None:
        page.set_viewport_size(original)
    return saved


def accessibility_problems(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    axe is evaluated through the DevTools protocol, which the page's Content Security Policy
    does not restrict (a ``<script>`` tag with axe inline would be refused, as it should be).
    """
    assert AXE.exists(), "axe-core is missing: run `make assets` (npm ci)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "best-practice"]},
        })"""
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
