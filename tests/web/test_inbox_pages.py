"""The Inbox over real HTTP: paging, a thread's pages, mark read and reply, the anti-forgery
token on both forms, and another account's numbers answering exactly like unknown ones."""

from __future__ import annotations

import re
from collections.abc import Callable

from simgate.services import sent_log, threads
from simgate.services.sent_log import LogQuery
from tests.support.api import T0, device_of, receive
from tests.support.server import Account, LiveServer
from tests.support.webforms import TOKEN, form_token, signed_in_client

NUMBER = "+32470555111"
THREAD_LINK = r'href="/dashboard/inbox/(\+\d+)"'


def thread_texts(html: str) -> list[str]:
    return re.findall(r'<p class="text">([^<]*)</p>', html)


def sent_to(live: LiveServer, account: Account) -> list[str]:
    rows = live.call(sent_log.sent_log(live.ctx, account.id, LogQuery()))
    return [row.recipient for row in rows]


class TestThreadList:
    def test_threads_are_paged_newest_first_with_unread_counts(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        per_page = threads.THREADS_PER_PAGE
        for index in range(per_page + 2):
            receive(live, device, f"+3247055{index:04d}", f"text {index}", at_ms=T0 + index)
        receive(live, device, "+32470550000", "again", at_ms=T0 + 1000)
        # Two SMS of one number in the same millisecond: still one thread, on one page.
        receive(live, device, "+32470550001", "same ms a", at_ms=T0 + 500)
        receive(live, device, "+32470550001", "same ms b", at_ms=T0 + 500)
        with signed_in_client(live, account) as http:
            first = http.get("/dashboard/inbox")
            assert first.status_code == 200
            numbers = re.findall(THREAD_LINK, first.text)
            assert len(numbers) == per_page
            # The numbers that texted last come first, with their unread counts.
            assert numbers[:2] == ["+32470550000", "+32470550001"]
            assert first.text.count("2 unread") == 1
            assert first.text.count("3 unread") == 1
            assert "again" in first.text  # the latest SMS as preview
            older = re.search(r'href="(/dashboard/inbox\?before=[^"]+)"', first.text)
            assert older is not None
            second = http.get(older.group(1))
            rest = re.findall(THREAD_LINK, second.text)
            assert rest == ["+32470550003", "+32470550002"]
            assert 'href="/dashboard/inbox">Newest conversations' in second.text
            assert "?before=" not in second.text  # the last page
            assert http.get("/dashboard/inbox?before=12.x.3").status_code == 400
            assert http.get("/dashboard/inbox?before=12.1.3").status_code == 400

    def test_the_alias_set_through_the_api_names_the_thread(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        guid = receive(live, device_of(live, live.add_device(account)), NUMBER, "hi")
        with live.client() as api:
            answer = api.get(
                "/getsms/update/",
                params={"apikey": account.api_key, "guid": guid, "alias": "Chez <Marie>"},
            )
            assert answer.status_code == 200, answer.text
        with signed_in_client(live, account) as http:
            assert "<strong>Chez &lt;Marie&gt;</strong>" in http.get("/dashboard/inbox").text
            page = http.get("/dashboard/inbox/" + NUMBER)
            assert "<title>Conversation with Chez &lt;Marie&gt; · simgate</title>" in page.text

    def test_naming_a_number_names_its_thread_and_its_sms_in_the_api(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        receive(live, device, NUMBER, "one", at_ms=T0)
        receive(live, device, NUMBER, "two", at_ms=T0 + 1)
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/inbox/" + NUMBER)
            named = http.post(
                "/dashboard/inbox/name",
                data={"number": NUMBER, "alias": "  Marie  ", "csrf_token": token},
            )
            assert named.status_code == 303
            assert "The name is saved." in http.get(named.headers["location"]).text
            assert "<strong>Marie</strong>" in http.get("/dashboard/inbox").text
            with live.client() as api:
                rows = api.get("/getsms/", params={"apikey": account.api_key}).json()
            assert {row["alias"] for row in rows["result"]["sms"]} == {"Marie"}
            too_long = http.post(
                "/dashboard/inbox/name",
                data={"number": NUMBER, "alias": "x" * 201, "csrf_token": token},
            )
            assert too_long.status_code == 400
            assert "at most 200 characters" in too_long.text
            cleared = http.post(
                "/dashboard/inbox/name", data={"number": NUMBER, "alias": "", "csrf_token": token}
            )
            assert "The name is removed." in http.get(cleared.headers["location"]).text
            assert "Marie" not in http.get("/dashboard/inbox").text


class TestThread:
    def test_a_long_thread_is_shown_a_page_at_a_time_oldest_first(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        total = threads.MESSAGES_PER_PAGE + 5
        for index in range(total):
            receive(live, device, NUMBER, f"message {index}", at_ms=T0 + index * 1000)
        with signed_in_client(live, account) as http:
            newest = http.get("/dashboard/inbox/" + NUMBER)
            texts = thread_texts(newest.text)
            assert texts == [f"message {i}" for i in range(5, total)]
            older = re.search(r'href="(/dashboard/inbox/[^"]+\?before=[^"]+)"', newest.text)
            assert older is not None
            page = http.get(older.group(1).replace("&amp;", "&"))
            assert page.status_code == 200
            assert thread_texts(page.text) == [f"message {i}" for i in range(5)]
            assert "?before=" not in page.text
            assert "hx-trigger" not in page.text  # an older page does not refresh itself
            bad = http.get("/dashboard/inbox/" + NUMBER, params={"before": "12.x.3"})
            assert bad.status_code == 400

    def test_sent_and_received_are_merged_in_time_order(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        receive(live, device, NUMBER, "question", at_ms=T0)
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/inbox/" + NUMBER)
            answer = http.post(
                "/dashboard/inbox/reply",
                data={"number": NUMBER, "message": "answer", "csrf_token": token},
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/dashboard/inbox/{NUMBER}?done=replied"
            receive(live, device, NUMBER, "thanks", at_ms=live.ctx.clock() + 1000)
            page = http.get("/dashboard/inbox/" + NUMBER)
            assert thread_texts(page.text) == ["question", "answer", "thanks"]
            assert page.text.count('class="bubble outgoing"') == 1
            # A number only sent to (here through the API) has a thread, with nothing to name.
            other = "+32470555333"
            with live.client() as api:
                api.get(
                    "/sendsms/",
                    params={"apikey": account.api_key, "recipients": other, "message": "promo"},
                )
            sent_only = http.get("/dashboard/inbox/" + other)
            assert sent_only.status_code == 200
            assert thread_texts(sent_only.text) == ["promo"]
            assert "Save name" not in sent_only.text
            assert "Save name" in page.text
        assert sorted(sent_to(live, account)) == sorted([NUMBER, other])

    def test_the_refresh_answers_the_list_alone_without_keeping_the_session_alive(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(dashboard_idle_seconds=60)
        account = live.create_account()
        receive(live, device_of(live, live.add_device(account)), NUMBER, "hello")
        with signed_in_client(live, account) as http:
            start = live.ctx.clock()
            headers = {"HX-Request": "true"}
            live.ctx.clock = lambda: start + 50_000
            fragment = http.get("/dashboard/inbox/" + NUMBER, headers=headers)
            assert fragment.status_code == 200
            assert fragment.text.lstrip().startswith('<ol class="chat" id="messages"')
            assert "<html" not in fragment.text
            live.ctx.clock = lambda: start + 61_000  # polls alone did not keep it alive
            gone = http.get("/dashboard/inbox/" + NUMBER, headers=headers)
            assert gone.status_code == 401
            assert gone.headers["hx-redirect"].startswith("/dashboard/login")


class TestMarkReadAndReply:
    def test_mark_read_marks_the_whole_thread_in_the_api_too(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        receive(live, device, NUMBER, "one", at_ms=T0)
        receive(live, device, NUMBER, "two", at_ms=T0 + 1)
        receive(live, device, "+32470555222", "other", at_ms=T0 + 2)
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/inbox/" + NUMBER)
            done = http.post("/dashboard/inbox/read", data={"number": NUMBER, "csrf_token": token})
            assert done.status_code == 303
            again = http.post("/dashboard/inbox/read", data={"number": NUMBER, "csrf_token": token})
            assert again.status_code == 303  # already read: nothing to do, no error
        with live.client() as api:
            query = {"apikey": account.api_key, "onlyunread": "yes"}
            rows = api.get("/getsms/", params=query).json()["result"]["sms"]
        assert [row["message"] for row in rows] == ["other"]

    def test_a_reply_to_an_opted_out_number_is_refused_and_said_so(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        receive(live, device_of(live, live.add_device(account)), NUMBER, "STOP")
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/inbox/" + NUMBER)
            answer = http.post(
                "/dashboard/inbox/reply",
                data={"number": NUMBER, "message": "but wait", "csrf_token": token},
            )
            assert answer.status_code == 409
            assert "it is on the opt-out list" in answer.text
            assert "but wait</textarea>" in answer.text  # the draft is kept


class TestRefused:
    def test_posts_without_the_token_are_refused(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        receive(live, device_of(live, live.add_device(account)), NUMBER, "hello")
        with signed_in_client(live, account) as http:
            for path, data in (
                ("/dashboard/inbox/read", {"number": NUMBER}),
                ("/dashboard/inbox/reply", {"number": NUMBER, "message": "forged"}),
                ("/dashboard/inbox/name", {"number": NUMBER, "alias": "forged"}),
            ):
                assert http.post(path, data=data).status_code == 403
                forged = {**data, "csrf_token": "0" * 64}
                assert http.post(path, data=forged).status_code == 403
            page = http.get("/dashboard/inbox/" + NUMBER)
            assert "unread" in page.text
            assert "forged" not in page.text
        assert sent_to(live, account) == []

    def test_another_accounts_thread_answers_like_an_unknown_one(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        owner = live.create_account()
        intruder = live.create_account()
        receive(live, device_of(live, live.add_device(owner)), NUMBER, "private")
        with signed_in_client(live, intruder) as http:
            token = TOKEN.search(http.get("/dashboard/inbox").text)
            assert token is not None
            csrf = token.group(1)
            theirs = http.get("/dashboard/inbox/" + NUMBER)
            unknown = http.get("/dashboard/inbox/+32470999999")
            assert theirs.status_code == unknown.status_code == 404
            assert theirs.text == unknown.text.replace("+32470999999", NUMBER)
            assert "private" not in theirs.text
            assert "private" not in http.get("/dashboard/inbox").text
            for path, data in (
                ("/dashboard/inbox/read", {"number": NUMBER}),
                ("/dashboard/inbox/reply", {"number": NUMBER, "message": "hi"}),
                ("/dashboard/inbox/name", {"number": NUMBER, "alias": "mine"}),
            ):
                answer = http.post(path, data={**data, "csrf_token": csrf})
                assert answer.status_code == 404
        assert sent_to(live, intruder) == []
        with signed_in_client(live, owner) as http:
            listing = http.get("/dashboard/inbox").text
            assert "1 unread" in listing
            assert "mine" not in listing
