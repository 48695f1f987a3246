"""The SOAP endpoint: ``sendSms(recipients, message, apikey)`` with ``/sendsms/``'s semantics.

``GET /sendsms/wsdl/sendsms.wsdl`` (the seed's URL) serves the WSDL; it names
``<SIMGATE_PUBLIC_BASE_URL>/sendsms/soap`` as the address calls go to (``GET`` there, or with
``?wsdl``, serves the WSDL too). A call goes through the same authentication, rate limits and
send service as ``/sendsms/``; its errors become SOAP faults in ``api.errors``.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api import bodies, soapxml
from simgate.api.params import Params, read_body
from simgate.api.routing import caller, context
from simgate.api.sms import send_request
from simgate.domain.errors import InvalidParameter
from simgate.services import messages

router = APIRouter(tags=["SOAP"])

WSDL_PATH = "/sendsms/wsdl/sendsms.wsdl"
ENDPOINT_PATH = soapxml.ENDPOINT_PATH
XML = "text/xml; charset=utf-8"


def endpoint_url(request: Request) -> str:
    return context(request).settings.public_base_url + ENDPOINT_PATH


async def wsdl(request: Request) -> Response:
    return Response(soapxml.wsdl(endpoint_url(request)), media_type=XML)


async def call(request: Request) -> Response:
    ctx = context(request)
    envelope = soapxml.parse_call(await read_body(request, ctx.settings.max_body_bytes))
    if envelope.operation != "sendSms":
        raise InvalidParameter(f"Unknown SOAP operation {envelope.operation[:40]!r}.")
    params = Params(envelope.arguments)
    principal = await caller(request, params)
    outcome = await messages.send(
        ctx, principal.account_id, send_request(params, principal.region, source="soap")
    )
    result = bodies.send_result(outcome, ctx.settings.zone)["result"]
    return Response(soapxml.send_sms_response(result), media_type=XML)


router.add_api_route(WSDL_PATH, wsdl, methods=["GET"], summary="The WSDL of the SOAP endpoint")
router.add_api_route(ENDPOINT_PATH, wsdl, methods=["GET"], include_in_schema=False)
router.add_api_route(
    ENDPOINT_PATH,
    call,
    methods=["POST"],
    summary="SOAP 1.1 endpoint of sendSms (document/literal); see the WSDL",
)
