"""Prometheus metrics at /metrics, off unless AUTHSERVER_METRICS=on: requests by endpoint
and status, latency, tokens issued by grant, sign-ins by method and result, and refresh
token reuse detections.

Each gunicorn worker counts in its own process. gunicorn.conf.py gives them a shared
PROMETHEUS_MULTIPROC_DIR, so /metrics, whichever worker answers it, reports the sum. Serve
/metrics to your monitoring network only: it is unauthenticated, like /readyz.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "authserver_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "authserver_http_request_duration_seconds",
    "Time to answer a request",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
TOKENS_ISSUED = Counter("authserver_tokens_issued_total", "Token responses", ["grant_type"])
SIGN_INS = Counter("authserver_sign_ins_total", "Sign-in attempts", ["method", "result"])
REFRESH_REUSE = Counter(
    "authserver_refresh_token_reuse_total",
    "Rotated-out refresh tokens presented again; each revoked its family",
)
GRANT_TYPES = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
)

metrics = Blueprint("metrics", __name__)


def init_metrics(app: Flask, enabled: bool) -> None:
    if not enabled:
        return
    app.before_request(_start)
    app.after_request(_observe)
    app.register_blueprint(metrics)


@metrics.get("/metrics")
def serve_metrics() -> Response:
    registry: Any = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def count_token_issued(grant_type: str) -> None:
    TOKENS_ISSUED.labels(grant_type if grant_type in GRANT_TYPES else "other").inc()


def count_audit_event(fields: dict[str, Any]) -> None:
    """Sign-ins and reuse detections are audit events already; count them as they commit."""
    details = fields.get("details") or {}
    if fields["event_type"] == "sign_in":
        SIGN_INS.labels(str(details.get("method", "unknown")), fields["outcome"]).inc()
    elif fields["event_type"] == "token.family_revoked" and str(
        details.get("reason", "")
    ).startswith("refresh_reuse"):
        REFRESH_REUSE.inc()


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    observe_request(endpoint, request.method, response.status_code, g.get("metrics_started"))
    return response


def observe_request(endpoint: str, method: str, status: int, started: float | None) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)


def totals(metric: str) -> dict[str, float]:
    """The current value of a counter per label value (one label), summed over the workers
    as /metrics reports it: the admin console's dashboard reads its counts here."""
    registry: Any = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    found: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == metric and len(sample.labels) == 1:
                label = next(iter(sample.labels.values()))
                found[label] = found.get(label, 0.0) + sample.value
    return found
