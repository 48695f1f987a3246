"""``/healthz``, ``/readyz`` and ``/metrics`` as a probe and a Prometheus scraper see them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from simgate.store.migrate import upgrade
from tests.support.server import LiveServer


def samples(
    http: httpx.Client, **kwargs: object
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = http.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


class TestProbes:
    def test_healthz_and_readyz_answer_200_json(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        with shared_servers().client() as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}

    def test_readyz_is_503_with_the_reason_when_migrations_are_pending(
        self, server_factory: Callable[..., LiveServer], tmp_path: Path
    ) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0005")
        with server_factory(url).client() as http:
            ready = http.get("/readyz")
            assert http.get("/healthz").status_code == 200
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["reason"] == "migrations_pending"
        assert "0005" in body["message"]

    def test_readyz_is_503_when_the_database_is_unreachable(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
        with server_factory(url).client() as http:
            ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "database_unreachable"


class TestMetrics:
    def test_counts_messages_requests_and_the_queue(self, server: LiveServer) -> None:
        account = server.create_account()
        with server.client() as http:
            before = samples(http)
            sent = http.get(
                "/sendsms/",
                params={"apikey": account.api_key, "recipients": "+32470123456", "message": "hi"},
            )
            assert sent.status_code == 200
            after = samples(http)
        accepted = "simgate_messages_total"
        assert (
            value(after, accepted, event="accepted")
            == value(before, accepted, event="accepted") + 1
        )
        route = {"method": "GET", "route": "/sendsms/"}
        assert value(after, "simgate_http_requests_total", **route, status="200") >= 1
        assert value(after, "simgate_http_request_duration_seconds_count", **route) >= 1
        assert value(after, "simgate_queue_depth", state="queued") >= 1
        assert ("simgate_devices_online", frozenset()) in after
        assert not any(account.api_key in str(labels) for _, labels in after)

    def test_unknown_paths_share_one_label(self, server: LiveServer) -> None:
        with server.client() as http:
            http.get("/no/such/path/0123456789")
            found = samples(http)
        assert (
            value(
                found, "simgate_http_requests_total", method="GET", route="unmatched", status="404"
            )
            >= 1
        )
        assert not any("0123456789" in str(labels) for _, labels in found)

    def test_a_metrics_token_is_required_once_set(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(metrics_token="scrape-me")
        with live.client() as http:
            assert http.get("/metrics").status_code == 403
            assert (
                http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
            )
            samples(http, headers={"Authorization": "Bearer scrape-me"})

    def test_without_a_token_only_loopback_clients_may_read(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(trusted_proxies=("127.0.0.1",))
        with live.client() as http:
            remote = http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
            assert remote.status_code == 403
            assert remote.json()["error"] == "metrics_forbidden"
            samples(http)
