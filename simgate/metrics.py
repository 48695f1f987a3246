"""The process's Prometheus counters and histograms: in-memory increments on the hot path.

A leaf module (nothing of simgate imported), so that services, the webhook worker and the HTTP
middleware can all count without depending on each other. What needs the database (queue depth,
phones connected) is not here: it is read when ``/metrics`` is scraped (``simgate.ops``).
No label ever holds a secret, an account or a number: routes are templates, not paths.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

# The ``*_created`` series double the output and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MESSAGES = Counter(
    "simgate_messages",
    "Messages by what happened to them in this process: accepted by the API, sent or failed "
    "as reported by a phone (or refused at once), received from a phone.",
    ["event"],
)
HTTP_REQUESTS = Counter(
    "simgate_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "simgate_http_request_duration_seconds",
    "Time from a request's head to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBHOOK_DELIVERIES = Counter(
    "simgate_webhook_attempts",
    "Webhook POST attempts by the state they left the delivery in: delivered, pending (to be "
    "retried) or dead (given up).",
    ["state"],
)


MESSAGE_EVENTS = ("accepted", "sent", "failed", "received")
for _event in MESSAGE_EVENTS:
    MESSAGES.labels(event=_event)  # every series present from the start, at 0


def count_messages(event: str, amount: int = 1) -> None:
    """Count ``amount`` messages that were ``accepted``, ``sent``, ``failed`` or ``received``."""
    if amount:
        MESSAGES.labels(event=event).inc(amount)
