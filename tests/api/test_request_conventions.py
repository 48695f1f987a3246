"""How the compatible API reads requests: the conventions every existing client relies on."""

from __future__ import annotations

import httpx
import pytest

from tests.contract import validate
from tests.support.api import NUMBER, accepted, send_refused
from tests.support.server import Account


def log_count(http: httpx.Client, account: Account) -> int:
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
    return len(body["result"]["sms"])


class TestWhereParametersComeFrom:
    @pytest.mark.parametrize("path", ["/sendsms", "/sendsms/"])
    def test_get_with_query_string_with_or_without_slash(
        self, http: httpx.Client, account: Account, path: str
    ) -> None:
        response = http.get(
            path, params={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"}
        )
        accepted(response)

    def test_post_form_body(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms", data={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"}
        )
        accepted(response)

    def test_post_multipart_body(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/",
            data={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"},
            files={"unused": ("note.txt", b"ignored")},
        )
        accepted(response)

    def test_post_json_object(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/", json={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"}
        )
        accepted(response)

    def test_post_with_everything_in_the_query_and_an_empty_json_body(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"},
            headers={"Content-Type": "application/json"},
        )
        accepted(response)

    def test_a_get_with_a_json_body_is_read(self, http: httpx.Client, account: Account) -> None:
        """Some clients send GET with a body; a bodiless GET skips the read, this one may not."""
        response = http.request(
            "GET",
            "/sendsms/",
            json={"apikey": account.api_key, "recipients": NUMBER, "message": "in a GET body"},
        )
        accepted(response)

    def test_a_chunked_form_body_without_length_is_read(
        self, http: httpx.Client, account: Account
    ) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            yield f"apikey={account.api_key}&recipients=%2B".encode()
            yield NUMBER.removeprefix("+").encode() + b"&message=chunked"

        response = http.post(
            "/sendsms/",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        accepted(response)

    def test_a_body_value_wins_over_the_query(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": NUMBER, "message": "from query"},
            data={"message": "from body"},
        )
        guid = accepted(response)["id"]
        log = http.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
        ).json()
        assert log["result"]["sms"][0]["message"] == "from body"

    def test_unknown_parameters_are_ignored(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": NUMBER,
                "message": "hi",
                "from": "python",
                "senderid": "Shop",
            },
        )
        accepted(response)

    def test_a_plus_decoded_as_space_still_means_international(
        self, http: httpx.Client, account: Account
    ) -> None:
        # A client that does not URL-encode sends "+32470..." and it arrives as " 32470...".
        response = http.get(
            f"/sendsms/?apikey={account.api_key}&recipients=+32470123456&message=hi"
        )
        result = accepted(response)
        assert result["recipients"] == [NUMBER]


class TestAuthentication:
    def test_bearer_header_with_the_api_key(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/",
            data={"recipients": NUMBER, "message": "hi"},
            headers={"Authorization": f"Bearer {account.api_key}"},
        )
        accepted(response)

    def test_a_valid_apikey_wins_over_an_unrelated_authorization_header(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": NUMBER, "message": "hi"},
            headers={"Authorization": "Bearer something-else"},
        )
        accepted(response)

    def test_missing_apikey_is_400(self, http: httpx.Client) -> None:
        response = http.get("/sendsms/", params={"recipients": NUMBER, "message": "hi"})
        send_refused(response, 400, "missing_apikey")

    @pytest.mark.parametrize("path", ["/getsms/", "/log/sent/sms/"])
    def test_a_wrong_key_is_403_on_every_endpoint(self, http: httpx.Client, path: str) -> None:
        response = http.get(path, params={"apikey": "0" * 48})
        assert response.status_code == 403
        body = response.json()
        assert body == {
            "success": False,
            "error": "invalid_apikey",
            "message": body["message"],
        }
        validate(body, "simgate.Error")


class TestBadInputNeverBreaksAnything:
    def test_missing_recipients(self, http: httpx.Client, account: Account) -> None:
        response = http.get("/sendsms/", params={"apikey": account.api_key, "message": "hi"})
        send_refused(response, 400, "missing_parameter")
        assert response.json()["parameter"] == "recipients"

    def test_missing_message(self, http: httpx.Client, account: Account) -> None:
        response = http.get("/sendsms/", params={"apikey": account.api_key, "recipients": NUMBER})
        send_refused(response, 400, "missing_parameter")

    def test_empty_message_counts_as_missing(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/sendsms/", params={"apikey": account.api_key, "recipients": NUMBER, "message": ""}
        )
        send_refused(response, 400, "missing_parameter")

    @pytest.mark.parametrize("number", ["abc", "+12", "0032", "++32470123456", "+3247012345678901"])
    def test_an_invalid_number_is_refused_and_nothing_is_stored(
        self, http: httpx.Client, account: Account, number: str
    ) -> None:
        response = http.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": number, "message": "hi"},
        )
        send_refused(response, 400, "invalid_parameter")
        assert log_count(http, account) == 0

    def test_one_bad_number_among_good_ones_is_reported_not_dropped(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": f"{NUMBER};not-a-number,+15551234567",
                "message": "hi",
            },
        )
        result = accepted(response)
        assert len(result["ids"]) == 2
        assert result["invalid"] == [
            {"recipient": "not-a-number", "error": result["invalid"][0]["error"]}
        ]

    def test_ten_thousand_numbers_are_refused_and_nothing_is_stored(
        self, http: httpx.Client, account: Account
    ) -> None:
        numbers = ",".join(f"+3247{index:07d}" for index in range(10_000))
        response = http.post(
            "/sendsms/", data={"apikey": account.api_key, "recipients": numbers, "message": "hi"}
        )
        send_refused(response, 400, "invalid_parameter")
        assert response.json()["parameter"] == "recipients"
        assert log_count(http, account) == 0

    def test_a_1_mb_message_is_refused_and_nothing_is_stored(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms/",
            data={"apikey": account.api_key, "recipients": NUMBER, "message": "a" * 1_000_000},
        )
        send_refused(response, 400, "invalid_parameter")
        assert response.json()["parameter"] == "message"
        assert log_count(http, account) == 0

    def test_the_longest_accepted_message_is_recorded_as_30_parts(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms/",
            data={"apikey": account.api_key, "recipients": NUMBER, "message": "a" * 4590},
        )
        result = accepted(response)
        assert result["parts"] == 30
        assert result["encoding"] == "GSM-7"

    def test_a_non_utf8_form_body(self, http: httpx.Client, account: Account) -> None:
        body = f"apikey={account.api_key}&recipients=%2B32470123456&message=".encode() + b"\xff\xfe"
        response = http.post(
            "/sendsms/",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        send_refused(response, 400, "invalid_parameter")
        assert log_count(http, account) == 0

    def test_non_utf8_percent_escapes_in_the_query(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(
            f"/sendsms/?apikey={account.api_key}&recipients=%2B32470123456&message=%FF%FE"
        )
        send_refused(response, 400, "invalid_parameter")

    def test_a_20_mb_body_is_refused_before_it_is_read(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            f"/sendsms/?apikey={account.api_key}",
            content=b"a" * (20 * 1024 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        send_refused(response, 413, "payload_too_large")
        assert log_count(http, account) == 0

    def test_a_20_mb_chunked_body_without_length_is_refused_too(
        self, http: httpx.Client, account: Account
    ) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield b"a" * (1024 * 1024)

        response = http.post(
            f"/sendsms/?apikey={account.api_key}",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        send_refused(response, 413, "payload_too_large")

    @pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null", b"{not json"])
    def test_a_json_body_that_is_not_an_object(
        self, http: httpx.Client, account: Account, body: bytes
    ) -> None:
        response = http.post(
            f"/sendsms/?apikey={account.api_key}&recipients=%2B32470123456&message=hi",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        send_refused(response, 400, "invalid_parameter")
        assert log_count(http, account) == 0

    def test_a_nested_json_value(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/",
            json={"apikey": account.api_key, "recipients": NUMBER, "message": {"a": 1}},
        )
        send_refused(response, 400, "invalid_parameter")

    def test_a_nul_character_is_refused(self, http: httpx.Client, account: Account) -> None:
        response = http.post(
            "/sendsms/",
            json={"apikey": account.api_key, "recipients": NUMBER, "message": "a\u0000b"},
        )
        send_refused(response, 400, "invalid_parameter")

    def test_an_unknown_path_is_a_json_404(self, http: httpx.Client) -> None:
        response = http.get("/no/such/endpoint")
        assert response.status_code == 404
        validate(response.json(), "simgate.Error")

    def test_an_unsupported_method_is_a_json_405(self, http: httpx.Client) -> None:
        response = http.delete("/sendsms/")
        assert response.status_code == 405
        validate(response.json(), "simgate.Error")
