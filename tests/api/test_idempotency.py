"""Idempotency keys on ``/sendsms/``: a repeat gets the first answer again and sends nothing.

Over real HTTP against a live server; the concurrent cases run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from simgate.clock import now_ms
from simgate.services import idempotency
from tests.support.api import NUMBER, accepted, send_refused, sent_log
from tests.support.server import Account, LiveServer

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
DAY_MS = 24 * 3600 * 1000


def params(account: Account, **extra: str) -> dict[str, str]:
    return {"apikey": account.api_key, "recipients": NUMBER, "message": "order 42 shipped", **extra}


def keyed(http: httpx.Client, account: Account, key: str, **extra: str) -> httpx.Response:
    """``POST /sendsms/`` as a form, with ``key`` in the ``Idempotency-Key`` header."""
    return http.post("/sendsms/", data=params(account, **extra), headers={HEADER: key})


def replayed(first: httpx.Response, again: httpx.Response) -> None:
    """``again`` is ``first`` given again: same status, same bytes, and marked as a replay."""
    accepted(first)
    assert REPLAYED not in first.headers
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]


class TestReplay:
    def test_the_same_key_twice_sends_once_and_answers_the_first_answer_again(
        self, http: httpx.Client, account: Account
    ) -> None:
        first = keyed(http, account, "order-42")
        again = keyed(http, account, "order-42")
        replayed(first, again)
        assert [row["guid"] for row in sent_log(http, account)] == [first.json()["result"]["id"]]

    def test_the_parameter_and_the_header_are_the_same_key(
        self, http: httpx.Client, account: Account
    ) -> None:
        first = http.get("/sendsms/", params=params(account, idempotency_key="k-1"))
        again = keyed(http, account, "k-1")
        replayed(first, again)
        assert len(sent_log(http, account)) == 1

    @pytest.mark.parametrize("how", ["json", "query-post", "get"])
    def test_the_same_parameters_carried_another_way_are_the_same_request(
        self, http: httpx.Client, account: Account, how: str
    ) -> None:
        """The digest is of the parsed parameters: a client that retries with another method
        or encoding (or its parameters in another order) repeats the same request."""
        first = keyed(http, account, "k-2", port="1", shorturl="0")
        reordered = dict(reversed(list(params(account, shorturl="0", port="1").items())))
        headers = {HEADER: "k-2"}
        if how == "json":
            again = http.post("/sendsms", json=reordered, headers=headers)
        elif how == "query-post":
            again = http.post("/sendsms/", params=reordered, headers=headers)
        else:
            again = http.get("/sendsms/", params=reordered, headers=headers)
        replayed(first, again)
        assert len(sent_log(http, account)) == 1

    def test_a_message_that_failed_at_once_is_replayed_with_its_failure(
        self, http: httpx.Client, account: Account
    ) -> None:
        first = keyed(http, account, "wa", waonly="yes")
        assert first.json()["result"]["failed"]
        replayed(first, keyed(http, account, "wa", waonly="yes"))

    def test_the_replay_of_an_encrypted_send_does_not_carry_the_key(
        self, http: httpx.Client, account: Account
    ) -> None:
        """The server never keeps the passphrase, not even to replay it."""
        first = accepted(keyed(http, account, "sealed", encrypt_message="yes"))
        again = keyed(http, account, "sealed", encrypt_message="yes")
        assert again.headers[REPLAYED] == "true"
        repeat = again.json()["result"]
        assert first["encrypted"]["key"]
        assert "key" not in repeat["encrypted"]
        first["encrypted"].pop("key")
        assert repeat == first

    def test_another_account_may_use_the_same_key(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        other = server.create_account()
        mine = keyed(http, account, "shared-key")
        theirs = keyed(http, other, "shared-key", message="something else")
        accepted(theirs)
        assert REPLAYED not in theirs.headers
        assert theirs.json()["result"]["id"] != mine.json()["result"]["id"]
        assert len(sent_log(http, account)) == len(sent_log(http, other)) == 1

    def test_a_send_without_a_key_is_never_replayed(
        self, http: httpx.Client, account: Account
    ) -> None:
        for _ in range(2):
            assert REPLAYED not in accepted_response(http.post("/sendsms/", data=params(account)))
        assert len(sent_log(http, account)) == 2


def accepted_response(response: httpx.Response) -> httpx.Headers:
    accepted(response)
    return response.headers


class TestConflicts:
    @pytest.mark.parametrize(
        "change", [{"message": "order 43 shipped"}, {"recipients": "+32470654321"}, {"port": "2"}]
    )
    def test_the_same_key_with_another_request_is_a_409_and_sends_nothing(
        self, http: httpx.Client, account: Account, change: dict[str, str]
    ) -> None:
        accepted(keyed(http, account, "k-3"))
        body = send_refused(keyed(http, account, "k-3", **change), 409, "idempotency_key_reused")
        assert body["parameter"] == "idempotency_key"
        assert len(sent_log(http, account)) == 1

    def test_a_refused_send_does_not_use_up_its_key(
        self, http: httpx.Client, account: Account
    ) -> None:
        """Nothing is stored for an error, the key included: the corrected request runs."""
        send_refused(
            keyed(http, account, "k-4", recipients="not a number"), 400, "invalid_parameter"
        )
        first = keyed(http, account, "k-4")
        accepted(first)
        assert REPLAYED not in first.headers

    def test_a_key_older_than_24_hours_is_as_good_as_new(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        first = accepted(keyed(http, account, "k-5"))
        server.ctx.clock = lambda: now_ms() + DAY_MS + 60_000
        again = keyed(http, account, "k-5", message="a new week, a new order")
        assert REPLAYED not in again.headers
        assert accepted(again)["id"] != first["id"]
        assert len(sent_log(http, account)) == 2
        # ... and the key now answers for its new request.
        replayed(again, keyed(http, account, "k-5", message="a new week, a new order"))


class TestKeyFormat:
    @pytest.mark.parametrize(
        "key", ["x" * 256, "caf\u00e9", "tab\there", "line\nbreak", "\x7f"], ids=repr
    )
    def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_a_400(
        self, http: httpx.Client, account: Account, key: str
    ) -> None:
        response = http.post("/sendsms/", data=params(account, idempotency_key=key))
        body = send_refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "idempotency_key"
        assert sent_log(http, account) == []

    def test_255_characters_and_spaces_inside_are_fine(
        self, http: httpx.Client, account: Account
    ) -> None:
        for key in ("k" * 255, "order 42 / attempt"):
            accepted(keyed(http, account, key))

    def test_a_header_and_a_parameter_that_differ_are_a_400(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms/", data=params(account, idempotency_key="a"), headers={HEADER: "b"}
        )
        assert send_refused(response, 400, "invalid_parameter")["parameter"] == "idempotency_key"

    def test_a_non_ascii_header_is_a_400(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/", data=params(account), headers={HEADER: "caf\u00e9".encode("latin-1")}
        )
        assert send_refused(response, 400, "invalid_parameter")["parameter"] == "idempotency_key"


def at_once(count: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``call`` from ``count`` threads released together; their responses."""
    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            response = call()
        except BaseException as exc:  # reported below, in the test's thread
            with lock:
                errors.append(exc)
            return
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


class TestConcurrency:
    @pytest.mark.timeout(90)
    def test_concurrent_requests_with_one_key_send_exactly_once(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        live = shared_servers(engine=engine)
        account = live.create_account()

        def one() -> httpx.Response:
            with live.client() as http:
                return keyed(http, account, "race", recipients=f"{NUMBER},+32470654321")

        responses = at_once(12, one)
        assert [response.status_code for response in responses] == [200] * 12
        assert len({response.content for response in responses}) == 1
        assert sum(REPLAYED not in response.headers for response in responses) == 1
        with live.client() as http:
            assert len(sent_log(http, account)) == 2  # one message per recipient, once

    @pytest.mark.timeout(90)
    def test_concurrent_different_requests_with_one_key_send_one_and_refuse_the_rest(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        live = shared_servers(engine=engine)
        account = live.create_account()
        counter = iter(range(100))
        lock = threading.Lock()

        def one() -> httpx.Response:
            with lock:
                number = next(counter)
            with live.client() as http:
                return keyed(http, account, "race", message=f"text {number}")

        responses = at_once(8, one)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [409] * 7
        with live.client() as http:
            assert len(sent_log(http, account)) == 1


class TestHousekeeping:
    def test_keys_past_their_24_hours_are_purged(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        accepted(keyed(http, account, "old"))
        server.ctx.clock = lambda: now_ms() + DAY_MS + 60_000
        assert server.call(idempotency.purge_expired(server.ctx)) >= 1
        assert server.call(idempotency.purge_expired(server.ctx)) == 0
