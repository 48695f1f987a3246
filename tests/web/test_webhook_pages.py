"""The Webhooks page over real HTTP: create (the secret shown once), edit and disable, test
events, redelivery of a failed delivery, rotation, deletion; the anti-forgery token on every
form; another account's endpoint answering exactly like an unknown one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from simgate.domain.webhooks import Format
from simgate.services import webhooks
from tests.conftest import eventually
from tests.support.server import Account, LiveServer
from tests.support.webforms import TOKEN, form_token, signed_in_client
from tests.webhooks.conftest import WEBHOOK_SETTINGS
from tests.webhooks.receiver import Receiver, verify

#: How a log row's subject starts for a test event.
ROW = '<span class="muted mono">test:'
SECRET = re.compile(r'id="secret" class="mono" type="text" readonly value="(whsec_[^"]+)"')


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


def create(http: httpx.Client, url: str, **fields: object) -> tuple[int, str]:
    """Add an endpoint through the form: its id and the secret the answer shows."""
    token = form_token(http, "/dashboard/webhooks")
    answer = http.post("/dashboard/webhooks", data={"url": url, "csrf_token": token, **fields})
    assert answer.status_code == 200, answer.text
    secret = SECRET.search(answer.text)
    assert secret is not None
    found = re.search(r'href="/dashboard/webhooks/(\d+)"', answer.text)
    assert found is not None
    return int(found.group(1)), secret.group(1)


def list_counts(http: httpx.Client) -> list[str]:
    """The waiting and failed counts of the one endpoint on the list page."""
    return re.findall(r'<td class="num">(\d+)</td>', http.get("/dashboard/webhooks").text)


def endpoints(live: LiveServer, account: Account) -> list[webhooks.Endpoint]:
    return live.call(webhooks.list_endpoints(live.ctx, account.id))


def states(live: LiveServer, account: Account, endpoint_id: int) -> list[str]:
    rows = live.call(webhooks.deliveries(live.ctx, account.id, endpoint_id))
    return [row.state for row in rows]


class TestEndpoints:
    def test_created_with_chosen_events_and_the_secret_shown_only_once(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            endpoint_id, secret = create(
                http,
                "http://127.0.0.1:9/in",
                events=["sms.received", "sms.failed"],
            )
            [endpoint] = endpoints(live, account)
            assert endpoint.id == endpoint_id
            assert endpoint.events == ("sms.failed", "sms.received")
            assert live.call(webhooks.reveal_secret(live.ctx, account.id, endpoint_id)) == secret
            listing = http.get("/dashboard/webhooks").text
            page = http.get(f"/dashboard/webhooks/{endpoint_id}").text
            assert "sms.failed, sms.received" in listing
            assert secret not in listing
            assert secret not in page

    def test_a_refused_url_is_said_in_the_form_and_nothing_is_made(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()  # private addresses refused, as in production
        account = live.create_account()
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/webhooks")
            for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/", "not a url", ""):
                answer = http.post("/dashboard/webhooks", data={"url": url, "csrf_token": token})
                assert answer.status_code == 400
                assert 'class="error" role="alert"' in answer.text
        assert endpoints(live, account) == []

    def test_events_the_format_cannot_carry_are_said_in_the_form(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/webhooks")
            wrong = http.post(
                "/dashboard/webhooks",
                data={
                    "url": "http://127.0.0.1:9/legacy",
                    "format": "legacy",
                    "events": "sms.sent",
                    "csrf_token": token,
                },
            )
            assert wrong.status_code == 400
            assert "cannot carry sms.sent" in wrong.text
            assert 'value="http://127.0.0.1:9/legacy"' in wrong.text  # kept
            bad_format = http.post(
                "/dashboard/webhooks",
                data={"url": "http://127.0.0.1:9/", "format": "xml", "csrf_token": token},
            )
            assert bad_format.status_code == 400
        assert endpoints(live, account) == []

    def test_edit_disable_and_delete(self, shared_servers: Callable[..., LiveServer]) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            endpoint_id, _ = create(http, "http://127.0.0.1:9/a")
            token = form_token(http, f"/dashboard/webhooks/{endpoint_id}")
            saved = http.post(
                f"/dashboard/webhooks/{endpoint_id}/edit",
                data={
                    "url": "http://127.0.0.1:9/b",
                    "format": "legacy",
                    "csrf_token": token,
                },  # "enabled" unchecked: disabled
            )
            assert saved.status_code == 303
            [endpoint] = endpoints(live, account)
            assert endpoint.url == "http://127.0.0.1:9/b"
            assert endpoint.format is Format.LEGACY
            assert endpoint.events == ("sms.received",)
            assert endpoint.enabled is False
            page = http.get(saved.headers["location"])
            assert "Your changes are saved." in page.text
            assert '<span class="badge disabled">disabled</span>' in page.text
            refused = http.post(
                f"/dashboard/webhooks/{endpoint_id}/edit",
                data={"url": "ftp://x", "format": "v2", "enabled": "1", "csrf_token": token},
            )
            assert refused.status_code == 400
            assert endpoints(live, account)[0].url == "http://127.0.0.1:9/b"
            path = f"/dashboard/webhooks/{endpoint_id}"
            gone = http.post(path + "/delete", data={"csrf_token": token})
            assert gone.status_code == 303
            assert "The endpoint is deleted" in http.get(gone.headers["location"]).text
            assert http.get(f"/dashboard/webhooks/{endpoint_id}").status_code == 404
        assert endpoints(live, account) == []

    def test_a_new_secret_replaces_the_old_one_and_is_shown_once(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            endpoint_id, old = create(http, "http://127.0.0.1:9/a")
            token = form_token(http, f"/dashboard/webhooks/{endpoint_id}")
            answer = http.post(
                f"/dashboard/webhooks/{endpoint_id}/rotate", data={"csrf_token": token}
            )
            assert answer.status_code == 200
            found = SECRET.search(answer.text)
            assert found is not None
            assert found.group(1) != old
            assert live.call(webhooks.reveal_secret(live.ctx, account.id, endpoint_id)) == (
                found.group(1)
            )


class TestDeliveries:
    def test_a_failed_delivery_is_redelivered_from_the_log(
        self, shared_servers: Callable[..., LiveServer], receiver: Receiver
    ) -> None:
        # One attempt only: the retry window closes before a second one.
        live = shared_servers(**WEBHOOK_SETTINGS, webhook_retry_window_seconds=0.2)
        account = live.create_account()
        receiver.statuses.append(500)
        with signed_in_client(live, account) as http:
            endpoint_id, secret = create(http, receiver.url)
            token = form_token(http, f"/dashboard/webhooks/{endpoint_id}")
            sent = http.post(f"/dashboard/webhooks/{endpoint_id}/test", data={"csrf_token": token})
            assert sent.status_code == 303
            eventually(lambda: states(live, account, endpoint_id) == ["dead"])
            assert list_counts(http) == ["0", "1"]  # waiting, failed
            log = http.get(f"/dashboard/webhooks/{endpoint_id}?state=dead").text
            assert '<span class="badge dead">dead</span>' in log
            assert "HTTP 500" in log
            delivery = re.search(r'name="delivery" value="(\d+)"', log)
            assert delivery is not None
            again = http.post(
                f"/dashboard/webhooks/{endpoint_id}/redeliver",
                data={"delivery": delivery.group(1), "csrf_token": token},
            )
            assert again.status_code == 303
            assert again.headers["location"].endswith("done=redelivered")
            eventually(lambda: states(live, account, endpoint_id) == ["delivered"])
            assert list_counts(http) == ["0", "0"]
            nothing = http.post(
                f"/dashboard/webhooks/{endpoint_id}/redeliver", data={"csrf_token": token}
            )
            assert nothing.headers["location"].endswith("done=nothing")
        hits = receiver.snapshot()
        assert len(hits) == 2
        assert verify(hits[0], secret)["id"] == verify(hits[1], secret)["id"]

    def test_the_log_is_paged_and_its_refresh_is_the_log_alone(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            # Nobody listens on port 9: the deliveries stay in the log, pending or retried.
            endpoint_id, _ = create(http, "http://127.0.0.1:9/hook")
            for _ in range(30):
                live.call(webhooks.send_test(live.ctx, account.id, endpoint_id))
            first = http.get(f"/dashboard/webhooks/{endpoint_id}").text
            assert first.count(ROW) == 25
            older = re.search(r'href="(/dashboard/webhooks/\d+\?before=\d+)"', first)
            assert older is not None
            second = http.get(older.group(1)).text
            assert second.count(ROW) == 5
            assert "hx-trigger" not in second
            path = f"/dashboard/webhooks/{endpoint_id}"
            fragment = http.get(path, headers={"HX-Request": "true"})
            assert fragment.text.startswith('<div id="delivery-log"')
            assert fragment.text.count(ROW) == 25


class TestRefused:
    def test_every_form_needs_the_token(
        self, shared_servers: Callable[..., LiveServer], receiver: Receiver
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        account = live.create_account()
        with signed_in_client(live, account) as http:
            endpoint_id, _ = create(http, receiver.url)
            for path, data in (
                ("/dashboard/webhooks", {"url": receiver.url}),
                (f"/dashboard/webhooks/{endpoint_id}/edit", {"url": "https://x.example.test/"}),
                (f"/dashboard/webhooks/{endpoint_id}/test", {}),
                (f"/dashboard/webhooks/{endpoint_id}/redeliver", {}),
                (f"/dashboard/webhooks/{endpoint_id}/rotate", {}),
                (f"/dashboard/webhooks/{endpoint_id}/delete", {}),
            ):
                assert http.post(path, data=data).status_code == 403, path
            [endpoint] = endpoints(live, account)
            assert endpoint.url == receiver.url
            assert states(live, account, endpoint_id) == []
        assert receiver.snapshot() == []

    def test_another_accounts_endpoint_answers_like_an_unknown_one(
        self, shared_servers: Callable[..., LiveServer], receiver: Receiver
    ) -> None:
        live = shared_servers(**WEBHOOK_SETTINGS)
        owner = live.create_account()
        intruder = live.create_account()
        with signed_in_client(live, owner) as http:
            endpoint_id, _ = create(http, receiver.url)
        unknown = endpoint_id + 1000
        with signed_in_client(live, intruder) as http:
            found = TOKEN.search(http.get("/dashboard/webhooks").text)
            assert found is not None
            token = found.group(1)
            theirs = http.get(f"/dashboard/webhooks/{endpoint_id}")
            nobody = http.get(f"/dashboard/webhooks/{unknown}")
            assert theirs.status_code == nobody.status_code == 404
            assert theirs.text == nobody.text.replace(str(unknown), str(endpoint_id))
            assert receiver.url not in http.get("/dashboard/webhooks").text
            for action in ("edit", "test", "redeliver", "rotate", "delete"):
                data = {"url": "https://x.example.test/", "csrf_token": token}
                mine = http.post(f"/dashboard/webhooks/{endpoint_id}/{action}", data=data)
                assert mine.status_code == 404, action
                assert whsec_absent(mine)
            assert http.get("/dashboard/webhooks/abc").status_code == 400
        [endpoint] = endpoints(live, owner)
        assert endpoint.url == receiver.url
        assert states(live, owner, endpoint_id) == []


def whsec_absent(answer: httpx.Response) -> bool:
    return "whsec_" not in answer.text
