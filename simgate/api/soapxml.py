"""The SOAP 1.1 wire format of ``sendSms``: the WSDL, reading a call, writing a result or fault.

Binding: **document/literal wrapped** (WS-I Basic Profile). The seed's nusoap example,
``$client->call("sendSms", array("recipients" => ..., "message" => ..., "apikey" => ...))``,
works with it because nusoap wraps named parameters into the single ``parameters`` part by
itself; PHP's SoapClient calls it as ``$client->sendSms(["recipients" => ..., ...])``; zeep and
.NET as ``sendSms(recipients=..., message=..., apikey=...)``. The reader is lenient in what it
accepts: the children of the Body's first element are read by local name, ignoring namespaces
and ``xsi:type`` attributes, so an rpc/literal or rpc/encoded call of the same operation (what
older nusoap servers described) is understood too.

Envelopes come from the network: ``defusedxml`` refuses DTDs and entity declarations (no
"billion laughs", no external entities), and the caller bounds the size before parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, register_namespace, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from simgate.domain.errors import InvalidParameter

#: Where calls are posted: the address the WSDL names (under ``SIMGATE_PUBLIC_BASE_URL``).
ENDPOINT_PATH = "/sendsms/soap"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NAMESPACE = "urn:simgate:sendsms"
SOAP_ACTION = NAMESPACE + "#sendSms"
#: The fields of ``/sendsms/``'s ``result`` that the SOAP result carries, in WSDL order.
RESULT_FIELDS = ("error", "sent", "id", "ids", "note", "datetime", "datetimeLocal")

# Prefixes for what we write (ElementTree's registry is process-wide; these URIs are ours to
# name). A fault's ``faultcode`` is the QName "soap:Client", so the prefix must be "soap".
register_namespace("soap", SOAP_ENV)
register_namespace("tns", NAMESPACE)


@dataclass(frozen=True)
class SoapCall:
    operation: str
    arguments: dict[str, str]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_call(body: bytes) -> SoapCall:
    """The operation and its arguments; ``InvalidParameter`` for anything but a SOAP call."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise InvalidParameter("The request is not a well-formed SOAP envelope.") from exc
    if _local(root.tag) != "Envelope":
        raise InvalidParameter("The request is not a SOAP envelope.")
    bodies = [child for child in root if _local(child.tag) == "Body"]
    if len(bodies) != 1 or len(bodies[0]) == 0:
        raise InvalidParameter("The SOAP envelope has no call in its Body.")
    call = bodies[0][0]
    arguments = {_local(child.tag): "".join(child.itertext()) for child in call}
    return SoapCall(operation=_local(call.tag), arguments=arguments)


def _envelope() -> tuple[Element, Element]:
    envelope = Element(f"{{{SOAP_ENV}}}Envelope")
    return envelope, SubElement(envelope, f"{{{SOAP_ENV}}}Body")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _bytes(envelope: Element) -> bytes:
    xml: bytes = tostring(envelope, encoding="utf-8", xml_declaration=True)
    return xml


def send_sms_response(result: Mapping[str, Any]) -> bytes:
    """``sendSmsResponse/result`` with the fields of ``/sendsms/``'s ``result``."""
    envelope, body = _envelope()
    response = SubElement(body, f"{{{NAMESPACE}}}sendSmsResponse")
    wrapper = SubElement(response, "result")
    for name in RESULT_FIELDS:
        value = result.get(name)
        if isinstance(value, list):
            for item in value:
                SubElement(wrapper, name).text = _text(item)
        else:
            SubElement(wrapper, name).text = _text(value)
    return _bytes(envelope)


def fault(client_error: bool, message: str, code: str) -> bytes:
    """A SOAP 1.1 Fault: ``Client`` when the caller must change the request, else ``Server``;
    ``detail/error`` holds the same snake_case code as the JSON API's ``error``."""
    envelope, body = _envelope()
    element = SubElement(body, f"{{{SOAP_ENV}}}Fault")
    SubElement(element, "faultcode").text = "soap:Client" if client_error else "soap:Server"
    SubElement(element, "faultstring").text = message
    detail = SubElement(element, "detail")
    SubElement(detail, "error").text = code
    return _bytes(envelope)


def wsdl(endpoint_url: str) -> str:
    """The WSDL 1.1 document, naming ``endpoint_url`` as the service's address."""
    return _WSDL.replace("{endpoint}", _attr(endpoint_url))


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


_WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions name="SendSms"
    targetNamespace="urn:simgate:sendsms"
    xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="urn:simgate:sendsms"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <documentation>sendSms(recipients, message, apikey): the same as /sendsms/. Recipients
    separated by commas or semicolons get one message (one GUID) each; result/id is the first
    GUID, result/ids all of them. Errors are SOAP faults whose detail/error is the error code
    of the JSON API (invalid_apikey, missing_parameter, rate_limited, ...).</documentation>
  <types>
    <xsd:schema targetNamespace="urn:simgate:sendsms" elementFormDefault="unqualified">
      <xsd:element name="sendSms">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="recipients" type="xsd:string"/>
            <xsd:element name="message" type="xsd:string"/>
            <xsd:element name="apikey" type="xsd:string"/>
          </xsd:sequence>
        </xsd:complexType>
      </xsd:element>
      <xsd:complexType name="SendSmsResult">
        <xsd:sequence>
          <xsd:element name="error" type="xsd:int"/>
          <xsd:element name="sent" type="xsd:string"/>
          <xsd:element name="id" type="xsd:string"/>
          <xsd:element name="ids" type="xsd:string" minOccurs="0" maxOccurs="unbounded"/>
          <xsd:element name="note" type="xsd:string"/>
          <xsd:element name="datetime" type="xsd:string"/>
          <xsd:element name="datetimeLocal" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:element name="sendSmsResponse">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="result" type="tns:SendSmsResult"/>
          </xsd:sequence>
        </xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </types>
  <message name="sendSmsRequest">
    <part name="parameters" element="tns:sendSms"/>
  </message>
  <message name="sendSmsResponse">
    <part name="parameters" element="tns:sendSmsResponse"/>
  </message>
  <portType name="SendSmsPortType">
    <operation name="sendSms">
      <input message="tns:sendSmsRequest"/>
      <output message="tns:sendSmsResponse"/>
    </operation>
  </portType>
  <binding name="SendSmsBinding" type="tns:SendSmsPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="sendSms">
      <soap:operation soapAction="urn:simgate:sendsms#sendSms" style="document"/>
      <input><soap:body use="literal"/></input>
      <output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="SendSmsService">
    <port name="SendSmsPort" binding="tns:SendSmsBinding">
      <soap:address location="{endpoint}"/>
    </port>
  </service>
</definitions>
"""
