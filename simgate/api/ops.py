"""What operators and their tools poll: ``/healthz`` (the process answers), ``/readyz`` (it can
serve: database reachable, schema current) and ``/metrics`` (Prometheus text format).

``/metrics`` says how busy the gateway is, not who uses it (no label holds an account, a number
or a key), but traffic levels are still nobody else's business: with ``SIMGATE_METRICS_TOKEN``
set it needs that bearer token; without one it answers loopback clients only (a Prometheus on
the same host, or a reverse proxy that decides who may read it).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from ipaddress import ip_address

from fastapi import APIRouter
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from simgate.api.routing import context, guard, json
from simgate.domain.errors import MetricsForbidden
from simgate.services import health

router = APIRouter(tags=["Operations"])

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(_request: Request) -> Response:
    return json({"status": "ok"})


async def readyz(request: Request) -> Response:
    ready = await health.readiness(context(request))
    if ready.ready:
        return json({"status": "ready"})
    return json(
        {"status": "unavailable", "reason": ready.reason, "message": ready.detail},
        status_code=503,
    )


class _Snapshot(Collector):
    """The database gauges of one scrape, as Prometheus metric families."""

    def __init__(self, gauges: health.Gauges) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily(
            "simgate_queue_depth", "Messages waiting for a phone, by state.", labels=["state"]
        )
        for state, count in self._gauges.queue.items():
            queue.add_metric([state], count)
        yield queue
        yield GaugeMetricFamily(
            "simgate_devices_online",
            "Phones and modems with a heartbeat within SIMGATE_DEVICE_ONLINE_SECONDS.",
            value=self._gauges.devices_online,
        )
        yield GaugeMetricFamily(
            "simgate_devices", "Phones and modems paired.", value=self._gauges.devices_total
        )
        yield GaugeMetricFamily(
            "simgate_webhook_backlog",
            "Webhook deliveries not yet delivered nor given up.",
            value=self._gauges.webhook_backlog,
        )


def _allowed(request: Request) -> bool:
    token = context(request).settings.metrics_token
    if token is not None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.get_secret_value().encode()
        )
    try:
        return ip_address(guard(request).client_address(request.scope)).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    if not _allowed(request):
        raise MetricsForbidden
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(await health.gauges(context(request))))
    body = generate_latest(REGISTRY) + generate_latest(snapshot)
    return Response(body, media_type=PROMETHEUS_TEXT, headers={"Cache-Control": "no-store"})


router.add_api_route(
    "/healthz",
    healthz,
    methods=["GET"],
    summary="Liveness: the process answers.",
    responses={200: {"description": '`{"status": "ok"}`'}},
)
router.add_api_route(
    "/readyz",
    readyz,
    methods=["GET"],
    summary="Readiness: the database answers and its schema is current.",
    responses={
        200: {"description": '`{"status": "ready"}`'},
        503: {"description": '`{"status": "unavailable", "reason": <code>, "message": <text>}`'},
    },
)
router.add_api_route(
    "/metrics",
    metrics,
    methods=["GET"],
    summary="Prometheus metrics (text format).",
    description="Needs `Authorization: Bearer <SIMGATE_METRICS_TOKEN>` when that setting is "
    "set; otherwise answers loopback clients only.",
    responses={
        200: {"content": {PROMETHEUS_TEXT: {}}, "description": "Prometheus text format."},
        403: {"description": "Not allowed to read metrics."},
    },
)
