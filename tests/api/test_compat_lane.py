"""Every compatible endpoint is served by the short lane (``simgate.api.lane``) exactly as the
router would serve it: both spellings of the path, GET and POST, the documented error shape, the
access log's and metrics' route label; other methods still get the router's 405."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simgate.api.lane import CompatLane, Gateway
from simgate.app import create_app
from simgate.protocol import DEVICE_WS_PATH
from tests.conftest import make_settings
from tests.support.server import LiveServer


def new_app() -> Gateway:
    return create_app(make_settings("sqlite+aiosqlite:///:memory:", "http://127.0.0.1"))


def compat_paths() -> list[str]:
    """The documented authenticated GET-and-POST paths, from the server's OpenAPI document."""
    schema = new_app().openapi()
    return sorted(
        path
        for path, item in schema["paths"].items()
        if {"get", "post"} <= set(item) and all("security" in item[m] for m in ("get", "post"))
    )


def test_the_lane_serves_every_documented_compatible_path_in_both_spellings() -> None:
    lane = new_app().lane
    assert isinstance(lane, CompatLane)
    paths = compat_paths()
    assert len(paths) >= 10
    wanted = {
        (spelling, method)
        for path in paths
        for spelling in (path, path.rstrip("/"))
        for method in ("GET", "POST")
    }
    assert wanted - lane.served == set()


def test_the_phones_websocket_takes_the_lane_too() -> None:
    lane = new_app().lane
    assert isinstance(lane, CompatLane)
    assert lane.sockets == {DEVICE_WS_PATH}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_each_spelling_answers_the_documented_missing_key_error(
    shared_servers: Callable[..., LiveServer], method: str
) -> None:
    with shared_servers().client() as http:
        for path in compat_paths():
            for spelling in (path, path.rstrip("/")):
                response = http.request(method, spelling)
                assert response.status_code == 400, (spelling, response.text)
                body = response.json()
                assert body["success"] is False
                assert body["error"] == "missing_apikey", (spelling, body)
                if spelling.rstrip("/") == "/sendsms":
                    assert body["result"] == {"error": "missing_apikey", "sent": "0"}


def test_other_methods_still_get_the_json_405(shared_servers: Callable[..., LiveServer]) -> None:
    with shared_servers().client() as http:
        response = http.put("/sendsms/")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_metrics_label_lane_requests_by_their_route(
    shared_servers: Callable[..., LiveServer],
) -> None:
    with shared_servers().client() as http:
        http.get("/getsms", params={"apikey": "sk_wrong"})
        text = http.get("/metrics").text
    labels = [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "simgate_http_requests_total"
    ]
    assert {"method": "GET", "route": "/getsms", "status": "403"} in labels
