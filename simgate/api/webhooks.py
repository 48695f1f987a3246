"""``/v1/webhooks/...``: an account's webhook endpoints, their secrets and delivery logs.

The reference service manages its webhook in its dashboard only, so these endpoints are
simgate's own, shaped like the compatible ones: GET or POST, with or without the trailing
slash, parameters from the query, a form or a JSON object, the API key as everywhere.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.params import Params
from simgate.api.routing import Doc, compat_route, json, start
from simgate.domain import timefmt
from simgate.domain.errors import invalid, missing
from simgate.domain.webhooks import DeliveryState, Format
from simgate.services import webhooks
from simgate.services.webhooks import Delivery, Endpoint, EndpointChange

router = APIRouter(tags=["Webhooks"])

FORMATS: Final = {fmt.value: fmt for fmt in Format}
STATES: Final = {state.value: state for state in DeliveryState}
FLAGS: Final = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}
MAX_ID: Final = 2**62


def _iso(ms: int | None) -> str | None:
    return None if ms is None else timefmt.iso_utc(ms)


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "format": endpoint.format.value,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "created_at": _iso(endpoint.created_ms),
        "updated_at": _iso(endpoint.updated_ms),
        "deliveries": {state.value: endpoint.counts.get(state.value, 0) for state in DeliveryState},
    }


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "subject": delivery.subject,
        "status": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status,
        "last_response": delivery.last_response,
        "last_error": delivery.last_error,
        "latency_ms": delivery.latency_ms,
        "created_at": _iso(delivery.created_ms),
        "last_attempt_at": _iso(delivery.last_attempt_ms),
        "next_attempt_at": _iso(delivery.next_attempt_ms),
        "delivered_at": _iso(delivery.delivered_ms),
    }


def _id(params: Params, name: str = "id") -> int:
    value = params.integer(name, minimum=1, maximum=MAX_ID)
    if value is None:
        raise missing(name)
    return value


def _events(params: Params) -> tuple[str, ...] | None:
    raw = params.text("events")
    if raw is None:
        return None
    names = tuple(name.strip() for name in raw.replace(";", ",").split(",") if name.strip())
    if len(names) > len(webhooks.EventType):
        raise invalid("events", "too many event types")
    return names


async def webhook_list(request: Request) -> Response:
    ctx, _params, account_id = await start(request)
    found = await webhooks.list_endpoints(ctx, account_id)
    return json({"success": True, "webhooks": [endpoint_view(item) for item in found]})


async def webhook_add(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    url = params.required("url").strip()
    fmt = params.choice("format", FORMATS) or Format.V2
    enabled = params.choice("enabled", FLAGS)
    created = await webhooks.add_endpoint(
        ctx, account_id, url, fmt, _events(params), enabled=True if enabled is None else enabled
    )
    body = {"success": True, "id": created.endpoint.id, "secret": created.secret}
    return json({**body, "webhook": endpoint_view(created.endpoint)})


async def webhook_update(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    change = EndpointChange(
        url=params.text("url"),
        format=params.choice("format", FORMATS),
        events=_events(params),
        enabled=params.choice("enabled", FLAGS),
    )
    updated = await webhooks.update_endpoint(ctx, account_id, _id(params), change)
    return json({"success": True, "webhook": endpoint_view(updated)})


async def webhook_delete(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    endpoint_id = _id(params)
    await webhooks.remove_endpoint(ctx, account_id, endpoint_id)
    return json({"success": True, "id": endpoint_id, "deleted": 1})


async def webhook_secret(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    endpoint_id = _id(params)
    rotate = params.choice("rotate", FLAGS) or False
    secret = await webhooks.reveal_secret(ctx, account_id, endpoint_id, rotate=rotate)
    return json({"success": True, "id": endpoint_id, "secret": secret, "rotated": rotate})


async def webhook_deliveries(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    endpoint_id = _id(params)
    found = await webhooks.deliveries(
        ctx,
        account_id,
        endpoint_id,
        state=params.choice("status", STATES),
        before_id=params.integer("before", minimum=1, maximum=MAX_ID),
        limit=params.integer("limit", minimum=1, maximum=webhooks.MAX_LOG_ROWS) or 50,
    )
    return json(
        {
            "success": True,
            "id": endpoint_id,
            "count": len(found),
            "deliveries": [delivery_view(item) for item in found],
        }
    )


async def webhook_redeliver(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    endpoint_id = _id(params)
    delivery_id = params.integer("delivery_id", minimum=1, maximum=MAX_ID)
    if delivery_id is None and params.choice("all", FLAGS) is not True:
        raise missing("delivery_id")
    moved = await webhooks.redeliver(ctx, account_id, endpoint_id, delivery_id)
    return json({"success": True, "id": endpoint_id, "redelivered": len(moved), "ids": moved})


async def webhook_test(request: Request) -> Response:
    ctx, params, account_id = await start(request)
    endpoint_id = _id(params)
    sent = await webhooks.send_test(ctx, account_id, endpoint_id)
    return json(
        {
            "success": True,
            "id": endpoint_id,
            "event_id": sent.event_id,
            "delivery_id": sent.delivery_id,
        }
    )


ID = Doc("id", "The webhook endpoint's id.", True, type="integer")
URL = Doc("url", "Where to POST: http(s); private addresses need the server's permission.")
FORMAT = Doc(
    "format",
    "`v2` (signed events, default) or `legacy` (received SMS only).",
    enum=("v2", "legacy"),
)
EVENTS = Doc("events", "Comma-separated event types; empty: every type the format carries.")
ENABLED = Doc("enabled", "`1` or `0`: a disabled endpoint keeps its deliveries waiting.")

compat_route(router, "/v1/webhooks/list/", webhook_list, summary="List your webhook endpoints")
compat_route(
    router,
    "/v1/webhooks/add/",
    webhook_add,
    summary="Register a webhook endpoint; answers its signing secret",
    params=[Doc(URL.name, URL.description, True), FORMAT, EVENTS, ENABLED],
)
compat_route(
    router,
    "/v1/webhooks/update/",
    webhook_update,
    summary="Change a webhook endpoint's URL, format, events or enabled flag",
    params=[ID, URL, FORMAT, EVENTS, ENABLED],
)
compat_route(
    router,
    "/v1/webhooks/delete/",
    webhook_delete,
    summary="Delete a webhook endpoint and its delivery log",
    params=[ID],
)
compat_route(
    router,
    "/v1/webhooks/secret/",
    webhook_secret,
    summary="Show a webhook endpoint's signing secret, or rotate it (`rotate=1`)",
    params=[ID, Doc("rotate", "`1`: replace the secret by a new one, shown in the answer.")],
)
compat_route(
    router,
    "/v1/webhooks/deliveries/",
    webhook_deliveries,
    summary="A webhook endpoint's delivery log, newest first",
    params=[
        ID,
        Doc("status", "Only deliveries in this state.", enum=tuple(STATES)),
        Doc("before", "Only deliveries older than this delivery id (paging).", type="integer"),
        Doc("limit", f"At most this many (1-{webhooks.MAX_LOG_ROWS}, default 50).", type="integer"),
    ],
)
compat_route(
    router,
    "/v1/webhooks/redeliver/",
    webhook_redeliver,
    summary="Send dead-lettered deliveries again: one (`delivery_id`) or all (`all=1`)",
    params=[
        ID,
        Doc("delivery_id", "The dead delivery to send again.", type="integer"),
        Doc("all", "`1`: every dead delivery of the endpoint."),
    ],
)
compat_route(
    router,
    "/v1/webhooks/test/",
    webhook_test,
    summary="Send a test event (a sample sms.received with data.test true) to an endpoint",
    params=[ID],
)
