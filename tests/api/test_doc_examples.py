"""Every example request of README.md and docs/*.md runs against a live server, as written.

The ``curl`` commands are read from the docs (see :mod:`tests.support.docexamples`), their
placeholders (``$BASE``, ``$KEY``, a SID, a GUID, an OAuth client...) replaced by the real
things of a fresh account with a phone connected over a real WebSocket, and sent over real HTTP.
Each must succeed, and its answer must have the shape of the JSON the doc shows after it. An
example that cannot run here is marked in the doc (``<!-- example: skip (why) -->``); a handful
at most, and the test lists them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from simgate.services import oauth, optouts
from tests.support.docexamples import Example, examples, parse_curl, shape_mismatches
from tests.support.handphone import Phone, connected
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.anyio

REQUESTS = examples("curl")
#: Examples the docs may mark as not runnable here; more means the docs drifted from tests.
MAX_SKIPPED = 3

# The placeholders the docs use, as a reader would replace them.
DOC_SID = "5f481e02d3d1df27"
DOC_QUEUED = "250879dfec15186e3ee7d700651bc73f2bf292b4"
DOC_FAILED = "8e6c843b35aac38ad1a1ae0ea21edb659c399cc4"
DOC_RECEIVED = "9c1d0e6f2a4b8c7d5e3f1a2b4c6d8e0f1a3b5c7d"
DOC_HOSTS = ("http://127.0.0.1:8000", "https://sms.example.com")


@dataclass
class World:
    """An account with what the examples talk about: a phone, a message sent, one failed, one
    waiting for its time, an SMS received, one typed on the phone, an OAuth client, a number
    that opted out."""

    base: str
    account: Account
    sid: str
    queued: str
    failed: str
    received: str
    client_id: str
    client_secret: str
    token: str

    def substitute(self, command: str) -> str:
        replacements = {
            "$BASE": self.base,
            "$KEY": self.account.api_key,
            "YOUR_KEY": self.account.api_key,
            DOC_SID: self.sid,
            DOC_QUEUED: self.queued,
            DOC_FAILED: self.failed,
            DOC_RECEIVED: self.received,
            "sgcs_…": self.client_secret,
            "sgc_…": self.client_id,
            "sgat_…": self.token,
            **dict.fromkeys(DOC_HOSTS, self.base),
        }
        for placeholder, value in replacements.items():
            command = command.replace(placeholder, value)
        return re.sub(r"\bKEY\b", self.account.api_key, command)


async def next_send(phone: Phone) -> str:
    frame = await phone.next("send")
    return str(frame["guid"])


def now_ms() -> int:
    return int(time.time() * 1000)


async def build_world(live: LiveServer) -> World:
    account = live.create_account()
    paired = live.add_device(account, "Office")
    key = {"apikey": account.api_key}
    async with (
        connected(live, paired.token) as phone,
        httpx.AsyncClient(base_url=live.url, timeout=10) as http,
    ):

        async def send(**params: str) -> str:
            answer = await http.get(
                "/sendsms/", params={**key, "recipients": "+32470000001", **params}
            )
            assert answer.status_code == 200, answer.text
            return str(answer.json()["result"]["id"])

        sent = await send(message="Your table is ready")
        assert await next_send(phone) == sent
        await phone.send({"type": "sent", "id": "s1", "guid": sent, "at": now_ms()})
        await phone.next("ack")
        failed = await send(message="Your order is ready")
        assert await next_send(phone) == failed
        await phone.send(
            {"type": "failed", "id": "f1", "guid": failed, "error": "no credit", "at": now_ms()}
        )
        await phone.next("ack")
        later = str(int(time.time()) + 86_400)
        queued = await send(message="See you tomorrow", schedule_timestamp=later)
        await phone.send(
            {
                "type": "received",
                "id": "r1",
                "number": "+32470000001",
                "text": "Hello, I would like more information.",
                "at": now_ms(),
            }
        )
        await phone.next("ack")
        await phone.send(
            {
                "type": "mobile_sent",
                "id": "m1",
                "number": "+32470000000",
                "text": "On my way",
                "at": now_ms(),
                "formatted": "",
            }
        )
        await phone.next("ack")
        inbox = (await http.get("/getsms/", params=key)).json()
        received = str(inbox["result"]["sms"][0]["guid"])
    # The number docs/api-sending.md shows on the opt-out list.
    live.call(optouts.add(live.ctx, account.id, "+32470999999", "cli"))
    client = live.call(oauth.create_client(live.ctx, account.email, "erp"))
    token = live.call(oauth.issue_token(live.ctx, client.client_id, client.client_secret))
    return World(
        base=live.url,
        account=account,
        sid=paired.sid,
        queued=queued,
        failed=failed,
        received=received,
        client_id=client.client_id,
        client_secret=client.client_secret,
        token=token.access_token,
    )


def run(world: World, example: Example) -> httpx.Response:
    request = parse_curl(world.substitute(example.command))
    with httpx.Client(timeout=10) as http:
        return http.request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body,
            auth=request.auth,
        )


@pytest.mark.parametrize(
    "example", [example for example in REQUESTS if example.skip is None], ids=lambda e: e.name
)
async def test_every_documented_request_answers_as_documented(
    shared_servers: Callable[..., LiveServer], example: Example
) -> None:
    world = await build_world(shared_servers())
    answer = run(world, example)
    if documents_an_error(example.answer):
        assert answer.is_client_error, f"{example.name}: {answer.status_code} {answer.text}"
    else:
        assert answer.is_success, (
            f"{example.name}: {example.command}\n→ {answer.status_code} {answer.text}"
        )
    if example.answered:
        problems = shape_mismatches(example.answer, answer.json())
        assert not problems, f"{example.name}: " + "; ".join(problems)


def documents_an_error(answer: Any) -> bool:
    """Whether the doc shows an error answer here (the API's shape, or OAuth2's)."""
    return isinstance(answer, dict) and (
        answer.get("success") is False or "error_description" in answer
    )


def test_the_docs_show_requests_and_skip_only_a_handful() -> None:
    skipped = [f"{example.name} ({example.skip})" for example in REQUESTS if example.skip]
    assert len(skipped) <= MAX_SKIPPED, f"too many examples skipped: {skipped}"
    assert len(REQUESTS) >= 30, "the docs' examples were not found"
    by_doc = {example.doc for example in REQUESTS}
    assert {"README.md", "docs/api-sending.md", "docs/api-receiving.md"} <= by_doc
    print("skipped examples:", skipped or "none")


def test_shapes_are_compared_by_keys_types_and_fixed_values() -> None:
    """The comparison itself: what it lets through and what it catches."""
    documented: Any = {"success": True, "count": 1, "data": [{"n": "+32", "x": None}]}
    assert shape_mismatches(documented, {"success": True, "count": 5, "data": []}) == []
    assert (
        shape_mismatches(documented, {"success": True, "count": 2, "data": [{"n": "+1", "x": 3}]})
        == []
    )
    assert shape_mismatches(documented, {"success": False, "count": 1, "data": []})
    assert shape_mismatches(documented, {"success": True, "count": "1", "data": []})
    assert shape_mismatches(documented, {"success": True, "data": []})
    assert shape_mismatches(documented, {"success": True, "count": 1, "data": [], "more": 1})
    partial = {"result": {"id": "x", "…": "…"}}
    assert shape_mismatches(partial, {"result": {"id": "y", "note": "n"}}) == []
    assert shape_mismatches(partial, {"result": {"note": "n"}})
