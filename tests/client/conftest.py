"""Fixtures of the client tests: a live server, accounts, devices, and clients whose every answer
is checked against the API contract when the test ends.

The clients talk real HTTP to the ``server`` fixture (one live server shared by the tests of a
module, each with its own account) through a recording transport, so a test checks the
client's behaviour and, at teardown, that each body the server sent satisfies the official
SMSMobileAPI schema and simgate's own (``tests.contract``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from simgate.client import AsyncClient, Client
from simgate.services import mobile_sent
from tests.contract import validate
from tests.support import api
from tests.support.api import device_of, report_failed
from tests.support.server import Account, LiveServer, PairedDevice

_ERROR = ("simgate.Error", "official.ErrorResponse")
_MUTATION = ("simgate.Mutation",)

#: For each endpoint: the schemas of a success body and of an error body.
SCHEMAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "/sendsms/": (
        ("simgate.SendSuccess", "official.SendMessageResponse"),
        ("simgate.SendError", *_ERROR),
    ),
    "/getsms/": (("simgate.ReceivedSms", "official.ReceivedSmsResponse"), _ERROR),
    "/log/sent/sms/": (("simgate.SentLog",), _ERROR),
    "/getsms/set-read/": (_MUTATION, _ERROR),
    "/getsms/update/": (_MUTATION, _ERROR),
    "/resend/": (_MUTATION, _ERROR),
    "/deletesms/": (_MUTATION, _ERROR),
    "/gateway/mobile/list/": (("simgate.MobileList",), _ERROR),
    "/gateway/mobile/update/": (_MUTATION, _ERROR),
    "/gateway/mobile/delete/": (_MUTATION, _ERROR),
    "/conversation/sms/list/": (("simgate.Conversations",), _ERROR),
    "/log/sent/frommobile/": (("simgate.FromMobile",), _ERROR),
}

Exchange = tuple[httpx.Request, httpx.Response]


class Recorder(httpx.HTTPTransport):
    """The real network transport, keeping every request and its (fully read) response."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response


class AsyncRecorder(httpx.AsyncHTTPTransport):
    """:class:`Recorder` for the asynchronous client."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    async def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_request(request)
        await response.aread()
        self.exchanges.append((request, response))
        return response


def check_contract(exchanges: list[Exchange]) -> None:
    """Validate every recorded answer against the schemas of its endpoint."""
    for request, response in exchanges:
        success, error = SCHEMAS[request.url.path]
        for name in success if response.is_success else error:
            validate(response.json(), name)


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """The module's shared live server: each test makes its own account on it."""
    return shared_servers()


@pytest.fixture
def recorders() -> dict[int, Recorder]:
    """The recording transport of each client made by ``client_for``, by ``id(client)``."""
    return {}


@pytest.fixture
def client_for(
    server: LiveServer, recorders: dict[int, Recorder]
) -> Iterator[Callable[[str], Client]]:
    """Make clients of the live server for an API key; closed and contract-checked at the end."""
    made: list[Client] = []

    def make(api_key: str) -> Client:
        recording = Recorder()
        sms = Client(server.url, api_key, transport=recording)
        recorders[id(sms)] = recording
        made.append(sms)
        return sms

    yield make
    for sms in made:
        sms.close()
        check_contract(recorders[id(sms)].exchanges)


@pytest.fixture
def client(client_for: Callable[[str], Client], account: Account) -> Client:
    """A client of ``account``."""
    return client_for(account.api_key)


@pytest.fixture
def sent_requests(recorders: dict[int, Recorder]) -> Callable[[Client], list[httpx.Request]]:
    """``sent_requests(client)``: the requests a client made by ``client_for`` has sent."""
    return lambda sms: [request for request, _ in recorders[id(sms)].exchanges]


@pytest.fixture
def async_client_for(server: LiveServer) -> Iterator[Callable[[str], AsyncClient]]:
    """Make async clients (the test closes them); their answers are checked at teardown."""
    recorders: list[AsyncRecorder] = []

    def make(api_key: str) -> AsyncClient:
        recording = AsyncRecorder()
        recorders.append(recording)
        return AsyncClient(server.url, api_key, transport=recording)

    yield make
    for recording in recorders:
        check_contract(recording.exchanges)


@pytest.fixture
def device(server: LiveServer, account: Account) -> PairedDevice:
    return server.add_device(account, "office phone")


def _now_ms() -> int:
    return int(time.time() * 1000)


_frames = itertools.count(1)


@pytest.fixture
def receive(server: LiveServer) -> Callable[..., str]:
    """``receive(device, number, text, received_ms=None)``: the phone reports an SMS; its GUID."""

    def report(paired: PairedDevice, number: str, text: str, received_ms: int | None = None) -> str:
        at_ms = _now_ms() if received_ms is None else received_ms
        return api.receive(server, device_of(server, paired), number, text, at_ms)

    return report


@pytest.fixture
def fail(server: LiveServer) -> Callable[[PairedDevice, str, str], None]:
    """``fail(device, guid, error)``: the phone reports that it could not send ``guid``."""

    def report(paired: PairedDevice, guid: str, error: str) -> None:
        report_failed(server, device_of(server, paired), guid, error)

    return report


@pytest.fixture
def typed_on_phone(server: LiveServer) -> Callable[[PairedDevice, str, str], None]:
    """``typed_on_phone(device, number, text)``: the phone reports an SMS its user sent."""

    def report(paired: PairedDevice, number: str, text: str) -> None:
        phone = device_of(server, paired)
        sms = mobile_sent.MobileSent(
            frame_id=f"client-test-{next(_frames)}",
            number=number,
            text=text,
            at_ms=_now_ms(),
            formatted="",
        )
        server.call(mobile_sent.record(server.ctx, phone, sms))

    return report
