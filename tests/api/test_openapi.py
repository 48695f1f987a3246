"""``/docs`` and ``/redoc`` work without internet, and ``/openapi.json`` tells the truth: live
answers validate against the schemas it declares, errors and security schemes included."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.support.server import Account, LiveServer


@pytest.fixture
def live(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    return shared_servers()


@pytest.fixture
def document(live: LiveServer) -> dict[str, Any]:
    with live.client() as http:
        found: dict[str, Any] = http.get("/openapi.json").json()
    return found


def check(document: dict[str, Any], path: str, status: int, response: httpx.Response) -> None:
    """``response`` has the status and validates against the schema ``path`` declares for it."""
    assert response.status_code == status, response.text
    declared = document["paths"][path]["get"]["responses"][str(status)]
    schema = declared["content"]["application/json"]["schema"]
    wrapper = {**schema, "components": document["components"]}
    errors = list(Draft202012Validator(wrapper).iter_errors(response.json()))
    assert not errors, [error.message for error in errors]


class TestOfflinePages:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    def test_pages_load_every_script_and_style_from_the_server_itself(
        self, live: LiveServer, page: str
    ) -> None:
        with live.client() as http:
            html = http.get(page)
            assert html.status_code == 200
            assert "text/html" in html.headers["content-type"]
            urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html.text)
            assert urls
            for url in urls:
                assert url.startswith("/"), f"{page} loads {url} from another host"
                assert http.get(url).status_code == 200, url
            assert "cdn." not in html.text
            assert "fonts.googleapis" not in html.text


class TestDocument:
    def test_json_answers_are_objects_never_strings(self, document: dict[str, Any]) -> None:
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                ok = operation["responses"].get("200", {})
                schema = ok.get("content", {}).get("application/json", {}).get("schema")
                assert schema != {"type": "string"}, f"{method} {path}"
                assert "type" not in (schema or {}) or schema["type"] != "string"

    def test_security_schemes_and_requirements(self, document: dict[str, Any]) -> None:
        schemes = document["components"]["securitySchemes"]
        assert schemes["apikey"] == {
            "type": "apiKey",
            "in": "query",
            "name": "apikey",
            "description": schemes["apikey"]["description"],
        }
        assert schemes["bearer"]["scheme"] == "bearer"
        for path in ("/sendsms/", "/log/sent/sms/", "/getsms/"):
            assert document["paths"][path]["get"]["security"] == [{"apikey": []}, {"bearer": []}]
        assert "security" not in document["paths"]["/s/{code}"]["get"]

    def test_sendsms_documents_its_errors_with_the_result_field(
        self, document: dict[str, Any]
    ) -> None:
        responses = document["paths"]["/sendsms/"]["post"]["responses"]
        assert {"200", "400", "403", "409", "429", "503"} <= set(responses)
        assert responses["403"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/SendErrorBody"
        }
        assert document["components"]["schemas"]["SendAnswer"]["examples"]

    def test_path_parameters_are_declared_and_the_short_link_answers_302(
        self, document: dict[str, Any]
    ) -> None:
        for path, methods in document["paths"].items():
            for name in re.findall(r"{(\w+)}", path):
                for operation in methods.values():
                    declared = {p["name"] for p in operation.get("parameters", [])}
                    assert name in declared, f"{path} does not declare {name}"
        assert "302" in document["paths"]["/s/{code}"]["get"]["responses"]


class TestAnswersMatchTheDocument:
    def test_send_log_and_inbox_answers(self, live: LiveServer, document: dict[str, Any]) -> None:
        account: Account = live.create_account()
        key = {"apikey": account.api_key}
        with live.client() as http:
            sent = http.get(
                "/sendsms/", params={**key, "recipients": "+32470123456", "message": "x"}
            )
            check(document, "/sendsms/", 200, sent)
            check(document, "/log/sent/sms/", 200, http.get("/log/sent/sms/", params=key))
            check(document, "/getsms/", 200, http.get("/getsms/", params=key))

    def test_error_answers(self, live: LiveServer, document: dict[str, Any]) -> None:
        account: Account = live.create_account()
        with live.client() as http:
            check(document, "/sendsms/", 403, http.get("/sendsms/", params={"apikey": "0" * 48}))
            check(document, "/sendsms/", 400, http.get("/sendsms/"))
            check(document, "/getsms/", 403, http.get("/getsms/", params={"apikey": "0" * 48}))
            missing = http.get("/cancel/", params={"apikey": account.api_key, "guid": "a" * 40})
            check(document, "/cancel/", 404, missing)
