"""``/sendsms/``: every parameter, its refusals, channels, encryption and operator retries."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from simgate import bus
from simgate.clock import now_ms
from simgate.context import Context
from simgate.domain.errors import InvalidParameter
from simgate.domain.states import MAX_AUTO_RETRIES, retry_delay
from simgate.services import sealing
from tests.conftest import eventually
from tests.support.api import NUMBER, accepted, send_refused, sent_log, sent_row
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

OTHER = "+32470123457"
THIRD = "+15551234567"
# What the sealed SMS says; checked literally so a change of wording is a conscious one.
SEALED_SMS = re.compile(
    r"\AYou received an encrypted message\. Open (http://127\.0\.0\.1:\d+/e/([A-Za-z0-9]{12})) "
    r"and enter the key the sender gave you\.\Z"
)


def send(http: httpx.Client, account: Account, **params: str) -> httpx.Response:
    return http.get("/sendsms/", params={"apikey": account.api_key, **params})


class TestAcceptedMessages:
    def test_one_recipient_gets_one_guid_and_a_queued_log_row(
        self, http: httpx.Client, account: Account
    ) -> None:
        result = accepted(send(http, account, recipients=NUMBER, message="Hello"))
        assert re.fullmatch(r"[0-9a-f]{40}", result["id"])
        assert result["ids"] == [result["id"]]
        assert result["encrypted"] == {"status": "0"}
        assert result["send_with_whatsapp"] == "0"
        logged = sent_row(http, account, result["id"])
        assert logged["recipients"] == NUMBER
        assert logged["message"] == "Hello"
        assert logged["status"] == "queued"
        assert logged["send_from_mobile"] == "0"

    @pytest.mark.parametrize("separator", [",", ";", " ; ", ", "])
    def test_several_recipients_each_get_their_own_guid(
        self, http: httpx.Client, account: Account, separator: str
    ) -> None:
        recipients = separator.join([NUMBER, OTHER, THIRD])
        result = accepted(send(http, account, recipients=recipients, message="Hi all"))
        assert len(set(result["ids"])) == 3
        assert result["id"] == result["ids"][0]
        assert result["recipients"] == [NUMBER, OTHER, THIRD]
        by_guid = {item["guid"]: item["recipients"] for item in sent_log(http, account)}
        assert by_guid == dict(zip(result["ids"], [NUMBER, OTHER, THIRD], strict=True))

    def test_a_post_form_without_the_slash_works_like_get(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms",
            data={"apikey": account.api_key, "recipients": NUMBER, "message": "by form"},
        )
        assert sent_row(http, account, accepted(response)["id"])["message"] == "by form"

    @pytest.mark.parametrize(
        ("message", "parts", "encoding"),
        [
            ("a" * 160, 1, "GSM-7"),
            ("a" * 161, 2, "GSM-7"),
            ("b" * 459, 3, "GSM-7"),
            ("€" * 80, 1, "GSM-7"),  # each € costs two septets: 160 exactly
            ("€" * 81, 2, "GSM-7"),
            ("ś" * 70, 1, "UCS-2"),
            ("ś" * 71, 2, "UCS-2"),
            ("😀" * 40, 2, "UCS-2"),  # 80 UTF-16 code units
        ],
    )
    def test_a_long_message_goes_out_as_multipart_and_its_parts_are_shown(
        self, http: httpx.Client, account: Account, message: str, parts: int, encoding: str
    ) -> None:
        result = accepted(send(http, account, recipients=NUMBER, message=message))
        assert (result["parts"], result["encoding"]) == (parts, encoding)
        logged = sent_row(http, account, result["id"])
        assert (logged["parts"], logged["encoding"]) == (parts, encoding)
        assert logged["message"] == message

    @pytest.mark.parametrize(("port", "expected"), [("1", 1), ("2", 2), ("", None)])
    def test_port_selects_the_sim_and_empty_lets_the_phone_choose(
        self, http: httpx.Client, account: Account, port: str, expected: int | None
    ) -> None:
        result = accepted(send(http, account, recipients=NUMBER, message="x", port=port))
        assert result["port"] == expected
        assert sent_row(http, account, result["id"])["port"] == expected

    def test_a_future_schedule_timestamp_is_kept_and_shown(
        self, http: httpx.Client, account: Account
    ) -> None:
        at = int(time.time()) + 3600
        result = accepted(
            send(http, account, recipients=NUMBER, message="later", schedule_timestamp=str(at))
        )
        assert result["schedule_timestamp"] == at
        assert "scheduled" in result["note"]
        logged = sent_row(http, account, result["id"])
        assert logged["schedule_timestamp"] == at
        assert logged["status"] == "scheduled"

    def test_a_past_schedule_timestamp_means_now(
        self, http: httpx.Client, account: Account
    ) -> None:
        result = accepted(
            send(http, account, recipients=NUMBER, message="now", schedule_timestamp="1000")
        )
        assert "queued for sending" in result["note"]

    @pytest.mark.parametrize(
        "name",
        ["port", "shorturl", "sIdentifiant", "sendwa", "sendsms", "waonly", "encrypt_message"],
    )
    def test_an_empty_optional_parameter_counts_as_absent(
        self, http: httpx.Client, account: Account, name: str
    ) -> None:
        result = accepted(send(http, account, recipients=NUMBER, message="x", **{name: ""}))
        assert result["encrypted"] == {"status": "0"}
        assert result["send_with_whatsapp"] == "0"
        assert sent_row(http, account, result["id"])["message"] == "x"

    def test_shorturl_zero_keeps_urls_as_written(
        self, http: httpx.Client, account: Account
    ) -> None:
        text = "See https://example.com/a"
        result = accepted(send(http, account, recipients=NUMBER, message=text, shorturl="0"))
        assert sent_row(http, account, result["id"])["message"] == text


class TestRefusedRequests:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("port", "3"),
            ("port", "0"),
            ("port", "sim1"),
            ("port", "1.0"),
            ("shorturl", "2"),
            ("shorturl", "yes"),
            ("shorturl", "true"),
            ("sendwa", "2"),
            ("sendwa", "yes"),
            ("sendsms", "no"),
            ("sendsms", "-1"),
            ("waonly", "no"),
            ("waonly", "1"),
            ("waonly", "YES "),
            ("encrypt_message", "1"),
            ("encrypt_message", "no"),
            ("encrypt_message", "true"),
            ("schedule_timestamp", "tomorrow"),
            ("schedule_timestamp", "-5"),
            ("schedule_timestamp", "1.5"),
            ("schedule_timestamp", "1795546854000"),  # milliseconds, not seconds
            ("schedule_timestamp", "9" * 25),
            ("recipients", "not a number"),
            ("message", "x" * 4591),
            ("message", "ś" * 2011),  # 31 UCS-2 parts
        ],
    )
    def test_an_undocumented_value_is_a_400_and_nothing_is_stored(
        self, http: httpx.Client, account: Account, name: str, value: str
    ) -> None:
        params = {"recipients": NUMBER, "message": "x", name: value}
        body = send_refused(send(http, account, **params), 400, "invalid_parameter")
        assert body["parameter"] == name
        assert sent_log(http, account) == []

    @pytest.mark.parametrize("name", ["recipients", "message"])
    @pytest.mark.parametrize("value", [None, "", "   "])
    def test_a_missing_or_blank_required_parameter_is_a_400(
        self, http: httpx.Client, account: Account, name: str, value: str | None
    ) -> None:
        params = {"recipients": NUMBER, "message": "x"}
        if value is None:
            del params[name]
        else:
            params[name] = value
        body = send_refused(send(http, account, **params), 400, "missing_parameter")
        assert body["parameter"] == name
        assert sent_log(http, account) == []

    def test_without_an_api_key_nothing_is_sent(self, http: httpx.Client, account: Account) -> None:
        response = http.get("/sendsms/", params={"recipients": NUMBER, "message": "x"})
        send_refused(response, 400, "missing_apikey")
        assert sent_log(http, account) == []

    def test_a_wrong_api_key_is_a_403(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/", data={"apikey": "x" * 40, "recipients": NUMBER, "message": "x"}
        )
        send_refused(response, 403, "invalid_apikey")
        assert sent_log(http, account) == []


class TestSidentifiant:
    def test_the_chosen_phone_sends_the_message(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        agents: Callable[..., RunningAgent],
    ) -> None:
        first, second = server.add_device(account, "first"), server.add_device(account, "second")
        agents(server, first.token)
        agents(server, second.token)
        guids = [
            accepted(send(http, account, recipients=NUMBER, message="x", sIdentifiant=second.sid))[
                "id"
            ]
            for _ in range(3)
        ]
        for guid in guids:
            done = eventually(
                lambda g=guid: (r := sent_row(http, account, g))["status"] == "sent" and r
            )
            assert done["send_from_mobile_sIdentifiant"] == second.sid  # type: ignore[index]

    def test_an_unknown_sidentifiant_is_a_404_and_nothing_is_stored(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = send(http, account, recipients=NUMBER, message="x", sIdentifiant="nope")
        send_refused(response, 404, "not_found")
        assert sent_log(http, account) == []

    def test_another_accounts_phone_is_a_404_like_an_unknown_one(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        stranger = server.create_account()
        theirs = server.add_device(stranger)
        foreign = send(http, account, recipients=NUMBER, message="x", sIdentifiant=theirs.sid)
        unknown = send(http, account, recipients=NUMBER, message="x", sIdentifiant="f" * 32)
        assert (
            send_refused(foreign, 404, "not_found").keys()
            == send_refused(unknown, 404, "not_found").keys()
        )
        assert sent_log(http, account) == []
        assert sent_log(http, stranger) == []


@pytest.fixture
def whatsapp_phone(
    server: LiveServer, account: Account, agents: Callable[..., RunningAgent]
) -> RunningAgent:
    """A connected phone of ``account`` that declares both SMS and WhatsApp."""
    device = server.add_device(account, "whatsapp")
    return agents(server, device.token, capabilities=("sms", "whatsapp"))


class TestChannels:
    @pytest.mark.parametrize(
        "case",
        [
            ({}, "sms"),
            ({"sendsms": "1"}, "sms"),
            ({"sendsms": "0", "sendwa": "0"}, "sms"),  # no channel chosen: SMS, the default
            ({"sendwa": "1"}, "both"),
            ({"sendwa": "1", "sendsms": "1"}, "both"),
            ({"sendwa": "1", "sendsms": "0"}, "whatsapp"),
            ({"waonly": "yes"}, "whatsapp"),
            ({"waonly": "yes", "sendsms": "1"}, "whatsapp"),
        ],
    )
    def test_sendsms_sendwa_and_waonly_choose_the_channel(
        self,
        http: httpx.Client,
        account: Account,
        whatsapp_phone: RunningAgent,
        case: tuple[dict[str, str], str],
    ) -> None:
        params, channel = case
        whatsapp = "0" if channel == "sms" else "1"
        result = accepted(send(http, account, recipients=NUMBER, message="x", **params))
        assert result["send_with_whatsapp"] == whatsapp
        done = eventually(
            lambda: (r := sent_row(http, account, result["id"]))["status"] == "sent" and r
        )
        assert done["send_with_whatsapp"] == whatsapp  # type: ignore[index]
        [transmitted] = whatsapp_phone.driver.transmitted
        assert (transmitted.guid, transmitted.channel) == (result["id"], channel)

    @pytest.mark.parametrize("params", [{"sendwa": "1"}, {"waonly": "yes"}])
    def test_whatsapp_without_a_whatsapp_phone_fails_with_a_clear_error(
        self, server: LiveServer, http: httpx.Client, account: Account, params: dict[str, str]
    ) -> None:
        server.add_device(account)  # a phone that never declared WhatsApp
        result = accepted(send(http, account, recipients=NUMBER, message="x", **params))
        error = "WhatsApp requested, but no device of this account declares WhatsApp."
        assert result["failed"] == [{"id": result["id"], "recipient": NUMBER, "error": error}]
        assert error in result["note"]
        logged = sent_row(http, account, result["id"])
        assert (logged["status"], logged["error_api"]) == ("failed", error)
        assert [item["guid"] for item in sent_log(http, account, error_api="1")] == [result["id"]]

    def test_whatsapp_through_a_chosen_phone_without_whatsapp_fails(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        agents: Callable[..., RunningAgent],
    ) -> None:
        capable, plain = server.add_device(account, "wa"), server.add_device(account, "plain")
        agents(server, capable.token, capabilities=("sms", "whatsapp"))
        result = accepted(
            send(http, account, recipients=NUMBER, message="x", sendwa="1", sIdentifiant=plain.sid)
        )
        logged = sent_row(http, account, result["id"])
        assert logged["status"] == "failed"
        assert logged["error_api"] == f"WhatsApp requested, but device {plain.sid} does not " + (
            "declare WhatsApp."
        )

    def test_a_sim_the_chosen_phone_did_not_announce_fails_with_a_clear_error(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        agents: Callable[..., RunningAgent],
    ) -> None:
        """Queued, it would wait for its TTL: nothing else may carry a message pinned there."""
        single = server.add_device(account, "single SIM")
        agents(server, single.token, sims=(1,))
        pinned = {"recipients": NUMBER, "message": "x", "sIdentifiant": single.sid}
        refused = accepted(send(http, account, port="2", **pinned))
        error = f"SIM 2 requested, but device {single.sid} announced only SIM 1."
        assert refused["failed"] == [{"id": refused["id"], "recipient": NUMBER, "error": error}]
        assert sent_row(http, account, refused["id"])["error_api"] == error
        taken = accepted(send(http, account, port="1", **pinned))
        assert "failed" not in taken

    def test_an_offline_whatsapp_phone_is_enough_to_accept(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        agents: Callable[..., RunningAgent],
    ) -> None:
        device = server.add_device(account)
        agents(server, device.token, capabilities=("sms", "whatsapp")).stop()
        result = accepted(send(http, account, recipients=NUMBER, message="x", waonly="yes"))
        assert "failed" not in result
        assert sent_row(http, account, result["id"])["status"] == "queued"


class TestEncryptedMessages:
    def test_the_sender_gets_the_key_once_and_the_sms_carries_only_a_link(
        self, http: httpx.Client, account: Account
    ) -> None:
        plaintext = "The door code is 4711, ask for Ms. Peeters"
        result = accepted(
            send(http, account, recipients=NUMBER, message=plaintext, encrypt_message="yes")
        )
        encrypted = result["encrypted"]
        assert encrypted["status"] == "1"
        assert re.fullmatch(r"[a-hj-km-np-z2-9]{10}", encrypted["key"])
        logged = sent_row(http, account, result["id"])
        match = SEALED_SMS.match(logged["message"])
        assert match is not None, logged["message"]
        assert encrypted["url"] == match.group(1)
        assert logged["encrypted"] == "1"
        assert (logged["parts"], logged["encoding"]) == (1, "GSM-7")
        assert plaintext not in http.get(encrypted["url"]).text
        data = http.get(encrypted["url"] + "/data").json()
        sealed = sealing.Sealed(
            **{k: data[k] for k in ("code", "salt", "iterations", "nonce", "ciphertext")}
        )
        assert sealed.iterations >= 200_000
        assert sealing.unseal(sealed, encrypted["key"]) == plaintext
        assert sealing.unseal(sealed, encrypted["key"].upper()) == plaintext  # typed in capitals
        with pytest.raises(InvalidParameter, match="Wrong key"):
            sealing.unseal(sealed, encrypted["key"][::-1] + "x")

    def test_the_database_never_holds_the_plaintext_or_the_key(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        # The markers contain letters that no GUID, digest or base64url text is made of ("-"
        # and lowercase beyond hex together), so finding one can only mean a leak.
        plaintext = "Bank PIN for Jef: pin-8254-zq, private-marker-QZXWV"
        result = accepted(
            send(http, account, recipients=NUMBER, message=plaintext, encrypt_message="yes")
        )
        key, url = result["encrypted"]["key"], result["encrypted"]["url"]
        path = Path(server.settings.database_url.removeprefix("sqlite+aiosqlite:///"))
        stored = b"".join(
            file.read_bytes() for file in path.parent.glob(path.name + "*") if file.is_file()
        )
        code = url.rsplit("/", 1)[1].encode()
        assert code in stored  # the right files were read
        for secret in (plaintext, "QZXWV", "pin-8254-zq", key):
            assert secret.encode() not in stored
            assert secret.encode("utf-16-le") not in stored

    def test_several_recipients_share_one_key_but_each_gets_a_link(
        self, http: httpx.Client, account: Account
    ) -> None:
        result = accepted(
            send(
                http,
                account,
                recipients=f"{NUMBER},{OTHER},{THIRD}",
                message="Meeting moved to 3pm",
                encrypt_message="yes",
            )
        )
        urls = result["encrypted"]["urls"]
        assert len(set(urls)) == 3
        assert urls[0] == result["encrypted"]["url"]
        for guid, url in zip(result["ids"], urls, strict=True):
            assert url in sent_row(http, account, guid)["message"]
            data = http.get(url + "/data").json()
            sealed = sealing.Sealed(
                **{k: data[k] for k in ("code", "salt", "iterations", "nonce", "ciphertext")}
            )
            assert sealing.unseal(sealed, result["encrypted"]["key"]) == "Meeting moved to 3pm"

    def test_urls_stay_inside_the_ciphertext_even_with_shorturl(
        self, http: httpx.Client, account: Account
    ) -> None:
        plaintext = "Your file: https://files.example.com/private/report.pdf"
        result = accepted(
            send(
                http,
                account,
                recipients=NUMBER,
                message=plaintext,
                encrypt_message="yes",
                shorturl="1",
            )
        )
        logged = sent_row(http, account, result["id"])
        assert SEALED_SMS.match(logged["message"])
        assert logged["shorturl_clicks"] == 0
        data = http.get(result["encrypted"]["url"] + "/data").json()
        sealed = sealing.Sealed(
            **{k: data[k] for k in ("code", "salt", "iterations", "nonce", "ciphertext")}
        )
        assert sealing.unseal(sealed, result["encrypted"]["key"]) == plaintext

    def test_a_long_text_is_sealed_whole_and_still_fits_one_sms(
        self, http: httpx.Client, account: Account
    ) -> None:
        plaintext = "ś" * 2500  # far beyond 30 UCS-2 parts as plain SMS
        result = accepted(
            send(http, account, recipients=NUMBER, message=plaintext, encrypt_message="yes")
        )
        assert (result["parts"], result["encoding"]) == (1, "GSM-7")


class ShiftedClock:
    """The server's clock, moved forward on demand so that retry backoffs pass at once."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms


async def _wake_scheduler(ctx: Context) -> None:
    ctx.bus.publish(bus.SCHEDULE, "0")


class TestOperatorRetries:
    def test_operator_errors_are_retried_three_times_then_the_message_fails(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        agents: Callable[..., RunningAgent],
    ) -> None:
        clock = ShiftedClock()
        server.ctx.clock = clock
        device = server.add_device(account)
        agent = agents(server, device.token, failure_rate=1.0)
        guid = accepted(send(http, account, recipients=NUMBER, message="x"))["id"]
        seen = []
        for attempt in range(1, MAX_AUTO_RETRIES + 1):
            waiting = eventually(
                lambda n=attempt: (r := sent_row(http, account, guid))["retries"] == n and r
            )
            assert waiting["status"] == "queued"  # type: ignore[index]
            seen.append(waiting["retries"])  # type: ignore[index]
            clock.offset_ms += int(retry_delay(attempt) * 1000) + 1000  # the backoff has passed
            server.call(_wake_scheduler(server.ctx))
        failed = eventually(
            lambda: (r := sent_row(http, account, guid))["status"] == "failed" and r
        )
        assert seen == [1, 2, 3]
        assert failed["retries"] == MAX_AUTO_RETRIES  # type: ignore[index]
        assert failed["send_from_mobile_erreur"] == "simulated operator error"  # type: ignore[index]
        assert failed["send_from_mobile"] == "0"  # type: ignore[index]
        assert [item["guid"] for item in sent_log(http, account, error_mobile="1")] == [guid]

        # The operator recovers; /resend/ puts it back in the queue and the phone sends it.
        agent.do(lambda: setattr(agent.driver, "failure_rate", 0.0))
        response = http.post("/resend/", data={"apikey": account.api_key, "guid": guid})
        assert response.status_code == 200, response.text
        sent = eventually(lambda: (r := sent_row(http, account, guid))["status"] == "sent" and r)
        assert sent["retries"] == 0  # type: ignore[index]
        assert sent["send_from_mobile_erreur"] == ""  # type: ignore[index]
        assert [sms.guid for sms in agent.driver.transmitted] == [guid]
