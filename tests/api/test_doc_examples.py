"""The answers documented in docs/*.md have the shape the server really gives: each example's
JSON block is read from the doc, the request beside it runs against a live server, and every
key the doc shows must be in the real answer (and every key of the answer in the doc)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
_JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.S)


def documented(doc: str, request_line: str) -> Any:
    """The first JSON block after ``request_line`` in ``docs/<doc>`` (which must contain it)."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    assert request_line in text, f"{doc} no longer shows {request_line!r}"
    block = _JSON_BLOCK.search(text, text.index(request_line))
    assert block is not None, f"no JSON block after {request_line!r} in {doc}"
    return json.loads(block.group(1))


def shape(value: Any) -> Any:
    """Keys of objects, recursively, through the first item of lists: what a client relies on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list) and value:
        return [shape(value[0])]
    return None


def assert_same_shape(doc_value: Any, real: Any, where: str = "") -> None:
    if doc_value is None or real is None:
        return  # a nullable field, null on one side: nothing to compare
    if isinstance(doc_value, dict):
        assert isinstance(real, dict), where
        assert set(doc_value) == set(real), (
            f"{where or 'body'}: only in the doc {sorted(set(doc_value) - set(real))}, "
            f"only in the answer {sorted(set(real) - set(doc_value))}"
        )
        for key in doc_value:
            assert_same_shape(doc_value[key], real[key], f"{where}.{key}")
    elif isinstance(doc_value, list) and doc_value and real:
        assert isinstance(real, list), where
        assert_same_shape(doc_value[0], real[0], f"{where}[0]")


@pytest.fixture
def busy(
    server: LiveServer, account: Account, agents: Callable[..., RunningAgent]
) -> Iterator[tuple[httpx.Client, Account]]:
    """A server with a connected phone that sent one message and received one SMS."""
    agent = agents(server, server.add_device(account, "Office").token)
    with server.client() as http:
        yield prepared(http, account, agent)


def prepared(
    http: httpx.Client, account: Account, agent: RunningAgent
) -> tuple[httpx.Client, Account]:
    key = {"apikey": account.api_key}
    guid = http.get(
        "/sendsms/", params={**key, "recipients": "+32470123456", "message": "Hi"}
    ).json()["result"]["id"]

    def sent() -> bool:
        rows = http.get("/log/sent/sms/", params={**key, "guid_message": guid}).json()
        return bool(rows["result"]["sms"][0]["status"] == "sent")

    eventually(sent)
    agent.do(lambda: agent.driver.inject_received("0470 12 34 56", "Hello there"))
    eventually(lambda: http.get("/getsms/", params=key).json()["result"]["sms"])
    return http, account


@pytest.mark.parametrize(
    ("doc", "request_line", "path", "params"),
    [
        (
            "api-sending.md",
            'curl "$BASE/sendsms/?apikey=$KEY&recipients=%2B32470123456',
            "/sendsms/",
            {"recipients": "+32470123456", "message": "Your table is ready"},
        ),
        ("api-sending.md", 'curl "$BASE/log/sent/sms/?apikey=$KEY&limit=50"', "/log/sent/sms/", {}),
        (
            "api-sending.md",
            'curl "$BASE/deletesms/?apikey=$KEY&date_start=2026-03-01&date_end=2026-03-31"',
            "/deletesms/",
            {"date_start": "2026-03-01", "date_end": "2026-03-31"},
        ),
        (
            "api-devices.md",
            "curl 'http://127.0.0.1:8000/gateway/mobile/list/?apikey=YOUR_KEY'",
            "/gateway/mobile/list/",
            {},
        ),
        (
            "api-receiving.md",
            'curl "$BASE/getsms/?apikey=$KEY&onlyunread=yes"',
            "/getsms/",
            {"onlyunread": "yes"},
        ),
    ],
)
def test_documented_answer_has_the_real_shape(
    busy: tuple[httpx.Client, Account],
    doc: str,
    request_line: str,
    path: str,
    params: dict[str, str],
) -> None:
    http, account = busy
    answer = http.get(path, params={"apikey": account.api_key, **params})
    assert answer.status_code == 200, answer.text
    assert_same_shape(shape(documented(doc, request_line)), shape(answer.json()))
