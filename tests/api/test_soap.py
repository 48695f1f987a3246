"""The SOAP endpoint through zeep, a real SOAP client, over real HTTP: the WSDL at the seed's
URL, ``sendSms`` reaching a simulated phone, faults for refused calls, hostile XML refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import zeep
import zeep.exceptions

from tests.conftest import eventually
from tests.support.devices import RunningAgent, outbox_lines
from tests.support.server import Account, LiveServer

WSDL = "/sendsms/wsdl/sendsms.wsdl"


def soap_client(server: LiveServer) -> zeep.Client:
    return zeep.Client(server.url + WSDL)


def raw_call(http: httpx.Client, body: str) -> httpx.Response:
    return http.post(
        "/sendsms/soap",
        content=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"sendSms"'},
    )


class TestWsdl:
    def test_the_wsdl_is_served_at_the_seed_url_and_names_this_server(
        self, server: LiveServer, http: httpx.Client
    ) -> None:
        response = http.get(WSDL)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert f'location="{server.url}/sendsms/soap"' in response.text
        assert 'style="document"' in response.text
        assert 'use="literal"' in response.text

    def test_zeep_reads_the_operation_signature(self, server: LiveServer) -> None:
        client = soap_client(server)
        operation = client.service._binding._operations["sendSms"]
        assert operation.input.signature() == (
            "recipients: xsd:string, message: xsd:string, apikey: xsd:string"
        )


class TestSendSms:
    def test_zeep_sends_and_the_message_reaches_the_phone(
        self,
        server: LiveServer,
        account: Account,
        agents: Callable[..., RunningAgent],
        tmp_outbox: Path,
        http: httpx.Client,
    ) -> None:
        device = server.add_device(account)
        agents(server, device.token, outbox_file=tmp_outbox)
        result = soap_client(server).service.sendSms(
            recipients="+32470123456", message="Sent over SOAP", apikey=account.api_key
        )
        assert result.error == 0
        assert result.sent == "1"
        assert len(result.id) == 40
        assert result.ids == [result.id]

        def logged_sent() -> bool:
            body = http.get(
                "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": result.id}
            ).json()
            return bool(body["result"]["sms"][0]["status"] == "sent")

        eventually(logged_sent)
        [line] = outbox_lines(tmp_outbox)
        assert line["guid"] == result.id
        assert line["to"] == "+32470123456"
        assert line["text"] == "Sent over SOAP"

    def test_several_recipients_get_one_guid_each(
        self, server: LiveServer, account: Account
    ) -> None:
        result = soap_client(server).service.sendSms(
            recipients="+32470123456;+32470123457", message="Both", apikey=account.api_key
        )
        assert len(result.ids) == 2
        assert result.id == result.ids[0]

    def test_a_bad_key_is_a_soap_fault(self, server: LiveServer) -> None:
        with pytest.raises(zeep.exceptions.Fault) as caught:
            soap_client(server).service.sendSms(
                recipients="+32470123456", message="No", apikey="0" * 48
            )
        assert caught.value.code == "soap:Client"
        assert "not valid" in caught.value.message
        assert caught.value.detail.find("error").text == "invalid_apikey"

    def test_a_missing_message_is_a_fault_naming_the_code(
        self, server: LiveServer, account: Account
    ) -> None:
        with pytest.raises(zeep.exceptions.Fault) as caught:
            soap_client(server).service.sendSms(
                recipients="+32470123456", message="", apikey=account.api_key
            )
        assert caught.value.detail.find("error").text == "missing_parameter"


class TestOtherClients:
    def test_an_rpc_style_call_as_nusoap_would_send_it_is_understood(
        self, account: Account, http: httpx.Client
    ) -> None:
        """Children read by local name, xsi:type ignored: rpc/encoded envelopes work too."""
        envelope = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<SOAP-ENV:Envelope SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"
 xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:ns1="urn:simgate:sendsms">
<SOAP-ENV:Body><ns1:sendSms>
<recipients xsi:type="xsd:string">+32470123456</recipients>
<message xsi:type="xsd:string">Hello &amp; welcome</message>
<apikey xsi:type="xsd:string">{account.api_key}</apikey>
</ns1:sendSms></SOAP-ENV:Body></SOAP-ENV:Envelope>"""
        response = raw_call(http, envelope)
        assert response.status_code == 200, response.text
        assert "<sent>1</sent>" in response.text


class TestHostileXml:
    @pytest.mark.parametrize(
        "body",
        [
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><sendSms>'
            "<message>&b;</message></sendSms></Body></Envelope>",
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><sendSms>'
            "<message>&e;</message></sendSms></Body></Envelope>",
            "not xml at all",
            "<Envelope><Body/></Envelope>",
        ],
        ids=["entity expansion", "external entity", "not xml", "empty body"],
    )
    def test_hostile_or_broken_envelopes_are_client_faults(
        self, http: httpx.Client, body: str
    ) -> None:
        response = raw_call(http, body)
        assert response.status_code == 500  # SOAP 1.1 answers every fault with 500
        assert "<faultcode>soap:Client</faultcode>" in response.text
        assert "<error>invalid_parameter</error>" in response.text
        assert "root:" not in response.text

    def test_an_oversized_envelope_is_refused_before_parsing(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(max_body_bytes=4096)
        with live.client() as http:
            response = raw_call(http, "<a>" + "x" * 10_000 + "</a>")
        assert response.status_code == 500
        assert "<error>payload_too_large</error>" in response.text
