"""After a session that uses every kind of credential, neither the raw database file nor
anything the server logged (its own lines and uvicorn's access log) holds any of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zeep

from simgate.logs import configure_logging
from tests.conftest import eventually, make_settings
from tests.support.credentials import access_token, bearer, new_client, new_key
from tests.support.devices import RunningAgent
from tests.support.server import LiveServer

PASSWORD = "correct horse battery"  # what LiveServer.create_account sets


@pytest.fixture
def verbose_logging() -> Iterator[None]:
    """The server logs at info, as `simgate serve` does by default; back to quiet afterwards."""
    configure_logging("info")
    yield
    configure_logging("warning")


@pytest.mark.usefixtures("verbose_logging")
def test_no_secret_in_the_database_file_or_the_logs(
    tmp_path: Path,
    agents: Callable[..., RunningAgent],
    capfd: pytest.CaptureFixture[str],
) -> None:
    database = tmp_path / "secrets.db"
    url = f"sqlite+aiosqlite:///{database}"
    from simgate.store.migrate import upgrade

    upgrade(url)
    live = LiveServer(
        lambda base: make_settings(
            url,
            base,
            access_log=True,
            log_level="info",
            api_rate_per_second=20.0,
            auth_failures_per_minute=20,
        )
    ).start()
    try:
        account = live.create_account()
        second = new_key(live, account, "second", expires_days=30)
        client = new_client(live, account, "erp")
        device = live.add_device(account)
        agents(live, device.token)
        with live.client() as http:
            token = access_token(http, client)
            basic = http.post(
                "/oauth2/token",
                auth=(client.client_id, client.client_secret),
                data={"grant_type": "client_credentials"},
            )
            assert basic.status_code == 200
            other_token = basic.json()["access_token"]
            query = {"recipients": "+32470123456", "message": "hello"}
            assert http.get("/sendsms/", params={"apikey": account.api_key, **query}).is_success
            assert http.post("/sendsms/", data={"apikey": second.api_key, **query}).is_success
            assert http.post("/sendsms/", headers=bearer(token), data=query).is_success
            assert http.get("/getsms/", headers=bearer(other_token)).is_success
            http.get("/no-such-path", params={"apikey": account.api_key})

            def phone_sent() -> bool:
                rows = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
                return all(row["status"] == "sent" for row in rows["result"]["sms"])

            eventually(phone_sent)
        result = zeep.Client(live.url + "/sendsms/wsdl/sendsms.wsdl").service.sendSms(
            recipients="+32470123456", message="soap", apikey=account.api_key
        )
        assert result.sent == "1"
        with live.client() as http:
            for n in range(25):  # wrong keys, into the 429s (last: they block this address)
                http.get("/getsms/", params={"apikey": f"{n:048x}"})
    finally:
        live.stop()
    secrets = {
        "first API key": account.api_key,
        "second API key": second.api_key,
        "client secret": client.client_secret,
        "access token (body)": token,
        "access token (basic)": other_token,
        "device token": device.token,
        "password": PASSWORD,
    }
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    # The access log was on; it writes paths without their query strings.
    assert "event='request' method='GET' path='/sendsms/'" in logs
    stored = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("secrets.db")
    )
    assert len(stored) > 0
    for name, secret in secrets.items():
        assert secret not in logs, f"{name} in the logs"
        assert secret.encode() not in stored, f"{name} in the database file"
