"""Webhook deliveries end to end: a real server, real devices, real receivers on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from simgate.services import webhooks
from simgate.store.tables import webhook_deliveries
from tests.conftest import eventually
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer
from tests.webhooks.conftest import (
    WEBHOOK_SETTINGS,
    ShiftedClock,
    add_webhook,
    log,
    wake_worker,
)
from tests.webhooks.receiver import Receiver, accepted, verify

LEGACY_KEYS = {"date", "hour", "time_received", "message", "number", "guid"}
RECEIVED_KEYS = {"guid", "from", "message", "received_at", "alias", "device_id"}


def deliveries_of(server: LiveServer, account: Account, endpoint_id: int) -> list[Any]:
    return server.call(webhooks.deliveries(server.ctx, account.id, endpoint_id))


def outbox_rows(server: LiveServer, account: Account) -> int:
    async def count() -> int:
        async with server.ctx.db.connect() as conn:
            result = await conn.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.account_id == account.id)
            )
            return int(result.scalar_one())

    return server.call(count())


class TestEvents:
    def test_a_received_sms_from_a_simulated_device_is_posted_legacy_and_signed_v2(
        self,
        shared_servers: Callable[..., LiveServer],
        engine: str,
        agents: Callable[..., RunningAgent],
        receivers: Callable[..., Receiver],
    ) -> None:
        server = shared_servers(engine=engine, **WEBHOOK_SETTINGS)
        account = server.create_account()
        v2, legacy = receivers(), receivers()
        with server.client() as http:
            _, secret = add_webhook(http, account, v2.url, format="v2")
            add_webhook(http, account, legacy.url, format="legacy")
            agent = agents(server, server.add_device(account).token)
            agent.do(lambda: agent.driver.inject_received("+32470123456", "Hello hooks"))
            eventually(lambda: v2.snapshot() and legacy.snapshot())
            [envelope] = accepted(v2.snapshot(), secret)
            assert envelope["type"] == "sms.received"
            assert set(envelope["data"]) == RECEIVED_KEYS
            assert envelope["data"]["from"] == "+32470123456"
            assert envelope["data"]["message"] == "Hello hooks"
            [hit] = legacy.snapshot()
            body = hit.json()
            assert set(body) == LEGACY_KEYS
            assert (body["number"], body["message"]) == ("+32470123456", "Hello hooks")
            assert body["guid"] == envelope["data"]["guid"]
            assert "x-smsmobileapi-signature" not in hit.headers

    def test_a_sent_message_gives_submitted_then_sent_in_order(
        self,
        shared_servers: Callable[..., LiveServer],
        agents: Callable[..., RunningAgent],
        receivers: Callable[..., Receiver],
    ) -> None:
        server = shared_servers(**WEBHOOK_SETTINGS)
        account = server.create_account()
        receiver = receivers()
        with server.client() as http:
            _, secret = add_webhook(http, account, receiver.url)
            agents(server, server.add_device(account).token)
            response = http.post(
                "/sendsms/",
                data={"apikey": account.api_key, "recipients": "+32470000001", "message": "Hi"},
            )
            guid = response.json()["result"]["id"]
            eventually(lambda: len(receiver.snapshot()) >= 2)
            events = accepted(receiver.snapshot(), secret)
            assert [event["type"] for event in events] == ["sms.api.submitted", "sms.sent"]
            assert {event["data"]["guid"] for event in events} == {guid}

    def test_an_endpoint_gets_only_the_events_it_asked_for(
        self,
        shared_servers: Callable[..., LiveServer],
        agents: Callable[..., RunningAgent],
        receivers: Callable[..., Receiver],
    ) -> None:
        server = shared_servers(**WEBHOOK_SETTINGS)
        account = server.create_account()
        receiver = receivers()
        with server.client() as http:
            _, secret = add_webhook(http, account, receiver.url, events="sms.mobile.sent")
            agent = agents(server, server.add_device(account).token)
            agent.do(lambda: agent.driver.inject_received("+32470123456", "not wanted"))
            agent.do(lambda: agent.driver.inject_mobile_sent("+32470999999", "typed"))
            eventually(receiver.snapshot)
            time.sleep(0.3)
            [event] = accepted(receiver.snapshot(), secret)
            assert event["type"] == "sms.mobile.sent"
            assert event["data"]["to"] == "+32470999999"

    def test_without_an_endpoint_nothing_is_enqueued(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(**WEBHOOK_SETTINGS)
        account = server.create_account()
        with server.client() as http:
            http.post(
                "/sendsms/",
                data={"apikey": account.api_key, "recipients": "+32470000001", "message": "Hi"},
            )
        assert outbox_rows(server, account) == 0


class TestRetries:
    def test_500_500_200_is_three_posts_of_one_event_with_growing_waits(
        self, shared_servers: Callable[..., LiveServer], receivers: Callable[..., Receiver]
    ) -> None:
        server = shared_servers(**WEBHOOK_SETTINGS)
        clock = ShiftedClock()
        server.ctx.clock = clock
        receiver = receivers(statuses=[500, 500], clock=clock)
        account = server.create_account()
        with server.client() as http:
            endpoint_id, secret = add_webhook(http, account, receiver.url)
            http.post("/v1/webhooks/test/", data={"apikey": account.api_key, "id": endpoint_id})
            waits = []
            for expected_hits in (1, 2):
                eventually(lambda n=expected_hits: len(receiver.snapshot()) == n)
                [row] = eventually(
                    lambda n=expected_hits: [
                        d
                        for d in deliveries_of(server, account, endpoint_id)
                        if d.state == "pending" and d.attempts == n
                    ]
                )
                assert row.next_attempt_ms is not None
                assert row.last_attempt_ms is not None
                waits.append(row.next_attempt_ms - row.last_attempt_ms)
                # Not before it is due ...
                clock.advance((row.next_attempt_ms - clock()) / 1000 - 2)
                wake_worker(server)
                time.sleep(0.3)
                assert len(receiver.snapshot()) == expected_hits
                # ... and promptly once it is.
                clock.advance(3)
                wake_worker(server)
            eventually(lambda: len(receiver.snapshot()) == 3)
            hits = receiver.snapshot()
            ids = {verify(hit, secret)["id"] for hit in hits}
            assert len(ids) == 1
            assert waits[1] > waits[0] >= 20_000
            arrivals = [hit.clock_ms for hit in hits]
            assert arrivals[2] - arrivals[1] > arrivals[1] - arrivals[0]
            [row] = eventually(
                lambda: [r for r in log(http, account, endpoint_id) if r["status"] == "delivered"]
            )
            assert row["attempts"] == 3
            assert row["last_status_code"] == 200
            assert row["last_response"] == "answer 200"

    def test_a_receiver_that_never_answers_ends_in_the_dead_letters_and_can_be_redelivered(
        self, shared_servers: Callable[..., LiveServer], receivers: Callable[..., Receiver]
    ) -> None:
        server = shared_servers(webhook_timeout_seconds=0.3, **WEBHOOK_SETTINGS)
        clock = ShiftedClock()
        server.ctx.clock = clock
        receiver = receivers(hang=True, clock=clock)
        account = server.create_account()
        with server.client() as http:
            endpoint_id, secret = add_webhook(http, account, receiver.url)
            http.post("/v1/webhooks/test/", data={"apikey": account.api_key, "id": endpoint_id})
            eventually(lambda: log(http, account, endpoint_id, status="pending"))
            for _ in range(20):  # about a day of retries, each skipped to at once
                if log(http, account, endpoint_id, status="dead"):
                    break
                clock.advance(5 * 3600)
                wake_worker(server)
                time.sleep(0.5)
            [dead] = log(http, account, endpoint_id, status="dead")
            assert dead["last_status_code"] is None
            assert "timeout" in dead["last_error"]
            assert dead["attempts"] >= 2
            receiver.hang = False
            response = http.post(
                "/v1/webhooks/redeliver/",
                data={"apikey": account.api_key, "id": endpoint_id, "all": "1"},
            )
            assert response.json()["redelivered"] == 1
            eventually(lambda: log(http, account, endpoint_id, status="delivered"))
            ids = {verify(hit, secret)["id"] for hit in receiver.snapshot()}
            assert len(ids) == 1


class TestRestart:
    def test_a_restart_in_the_middle_loses_no_pending_delivery(
        self,
        server_factory: Callable[..., LiveServer],
        database_url: str,
        receivers: Callable[..., Receiver],
    ) -> None:
        receiver = receivers(statuses=[503])
        first = server_factory(database_url, **WEBHOOK_SETTINGS)
        account = first.create_account()
        with first.client() as http:
            endpoint_id, secret = add_webhook(http, account, receiver.url)
            http.post("/v1/webhooks/test/", data={"apikey": account.api_key, "id": endpoint_id})
            eventually(lambda: log(http, account, endpoint_id, status="pending"))
            # The second event's attempt is in flight when the server stops.
            receiver.hang = True
            http.post("/v1/webhooks/test/", data={"apikey": account.api_key, "id": endpoint_id})
            eventually(lambda: len(receiver.snapshot()) == 2)
        first.stop()
        receiver.hang = False
        second = server_factory(database_url, **WEBHOOK_SETTINGS)
        clock = ShiftedClock()
        second.ctx.clock = clock
        receiver.clock = clock
        clock.advance(120)  # past the first retry and the in-flight attempt's lease
        wake_worker(second)
        with second.client() as http:
            eventually(lambda: len(log(http, account, endpoint_id, status="delivered")) == 2)
        events = accepted(receiver.snapshot(), secret)
        assert len(events) == 2
        assert len(receiver.snapshot()) == 4


class TestTenancy:
    def test_an_account_never_sees_another_accounts_webhooks(
        self, shared_servers: Callable[..., LiveServer], receivers: Callable[..., Receiver]
    ) -> None:
        server = shared_servers(**WEBHOOK_SETTINGS)
        owner, other = server.create_account(), server.create_account()
        receiver = receivers()
        with server.client() as http:
            endpoint_id, _ = add_webhook(http, owner, receiver.url)
            listed = http.get("/v1/webhooks/list", params={"apikey": other.api_key}).json()
            assert listed == {"success": True, "webhooks": []}
            for path in ("deliveries", "test", "secret", "delete", "update", "redeliver"):
                response = http.post(
                    f"/v1/webhooks/{path}/",
                    json={"apikey": other.api_key, "id": endpoint_id, "all": 1},
                )
                assert response.status_code == 404, path
                assert response.json()["error"] == "not_found"
            mine = http.get("/v1/webhooks/list/", params={"apikey": owner.api_key}).json()
            assert [item["id"] for item in mine["webhooks"]] == [endpoint_id]


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "ftp://example.com/", "http://[fe80::1]/x"],
)
def test_the_api_refuses_a_url_the_guard_refuses(
    shared_servers: Callable[..., LiveServer], url: str
) -> None:
    server = shared_servers(**WEBHOOK_SETTINGS)
    account = server.create_account()
    with server.client() as http:
        response = http.post("/v1/webhooks/add", data={"apikey": account.api_key, "url": url})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_parameter"
    assert response.json()["parameter"] == "url"
