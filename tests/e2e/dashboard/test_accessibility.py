"""axe-core on every page of part A, with data on them, at a laptop's and a phone's width: no
serious or critical violation (contrast, labels, landmarks, names, headings, ...)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support.api import device_of, report_failed, send_sms
from tests.support.browser import WIDTHS, accessibility_problems
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.browser


class TestAccessibility:
    def test_every_page_passes_axe_at_both_widths(
        self,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        paired = dash.add_device(user, label="Desk phone")
        with dash.client() as api:
            guid = send_sms(api, user, recipients="+32470000001", message="Hello there")
            failed = send_sms(api, user, recipients="+32470000002", message="Will fail")
        report_failed(dash, device_of(dash, paired), failed, "no credit")
        pages = {
            "overview": "/dashboard/",
            "devices": "/dashboard/devices",
            "device-delete": f"/dashboard/devices/{paired.sid}/delete",
            "compose": "/dashboard/compose",
            "sent": "/dashboard/sent",
            "message": f"/dashboard/messages/{guid}",
            "failed-message": f"/dashboard/messages/{failed}",
            "password": "/dashboard/password",
            "not-found": "/dashboard/messages/" + "0" * 40,
            "inbox-coming": "/dashboard/inbox",
        }
        problems: dict[str, object] = {}
        for name, path in pages.items():
            page.goto(dash.url + path)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = accessibility_problems(page)
                if found:
                    problems[f"{name}@{width}"] = found
            shoot(page, name)
        assert problems == {}
