"""The Inbox in chromium: an SMS a simulated phone receives shows as a thread, is marked read
and answered from the thread, and the answer leaves through that phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from simgate.services import threads
from tests.conftest import eventually
from tests.support.api import device_of, receive
from tests.support.browser import accessibility_problems
from tests.support.devices import RunningAgent, outbox_lines
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.browser

NUMBER = "+32470555111"


def received_count(dash: LiveServer, user: Account) -> int:
    listed = dash.call(threads.list_threads(dash.ctx, user.id))
    return sum(thread.received for thread in listed.threads)


class TestInbox:
    def test_an_sms_from_a_phone_is_read_and_answered_in_its_thread(
        self,
        *,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        agents: Callable[..., RunningAgent],
        tmp_outbox: Path,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        agent = agents(dash, dash.add_device(user).token, outbox_file=tmp_outbox)
        agent.do(lambda: agent.driver.inject_received(NUMBER, "Is the table free at 8?"))
        eventually(lambda: received_count(dash, user) == 1)

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
        thread = page.get_by_role("link", name=NUMBER)
        expect(thread).to_contain_text("Is the table free at 8?")
        expect(thread).to_contain_text("1 unread")
        assert accessibility_problems(page) == []
        shoot(page, "inbox")

        thread.click()
        expect(page.get_by_role("heading", name=NUMBER)).to_be_visible()
        chat = page.get_by_role("list", name="Conversation")
        expect(chat.get_by_role("listitem")).to_have_count(1)
        expect(chat).to_contain_text("Is the table free at 8?")
        page.get_by_role("button", name="Mark read").click()
        expect(page.get_by_role("status")).to_have_text("Marked as read.")
        expect(page.get_by_role("button", name="Mark read")).to_have_count(0)
        expect(chat.get_by_text("unread")).to_have_count(0)

        page.get_by_label("Message").fill("Yes, see you at 8")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("status")).to_contain_text("Your reply is on its way")
        reply = chat.get_by_role("listitem").filter(has_text="Yes, see you at 8")
        # The page refreshes itself: the reply's status turns to sent without a reload.
        expect(reply).to_contain_text("sent", timeout=15_000)
        [line] = eventually(lambda: outbox_lines(tmp_outbox))  # type: ignore[misc]
        assert line["to"] == NUMBER
        assert line["text"] == "Yes, see you at 8"

        page.get_by_label("Name", exact=True).fill("Marie")
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_role("heading", name=f"Marie {NUMBER}")).to_be_visible()

        # A new SMS of the same number shows in the open thread, after the reply.
        agent.do(lambda: agent.driver.inject_received(NUMBER, "Great, thanks!"))
        expect(chat.get_by_role("listitem")).to_have_count(3, timeout=15_000)
        expect(chat.get_by_role("listitem").last).to_contain_text("Great, thanks!")
        expect(chat.get_by_role("listitem").last).to_contain_text("unread")
        assert accessibility_problems(page) == []
        shoot(page, "thread")

    def test_a_reply_without_text_is_refused_in_place(
        self,
        signed_in: Page,
        dash: LiveServer,
        user: Account,
        shoot: Callable[[Page, str], list[Path]],
    ) -> None:
        page = signed_in
        device = dash.add_device(user)
        receive(dash, device_of(dash, device), NUMBER, "Hello?")
        page.goto(dash.url + "/dashboard/inbox/" + NUMBER)
        page.get_by_label("Message").fill("   ")
        # The browser's own check lets spaces through; the server refuses them.
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("alert")).to_have_text("Write a message first.")
        assert accessibility_problems(page) == []
