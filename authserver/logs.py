"""Structured logs: JSON lines on stderr, one per request with its request id.

A request id comes from `X-Request-ID` when the caller sends a sane one (a proxy's), or is
made here; it is echoed in the response, stamped on every line logged while the request
runs, and stored with audit events. The request line names the route template, never the
raw path or query string, so codes, tokens and invitation tokens never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,64}$")
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})))

request_log = logging.getLogger("authserver.request")
# Built once: json.dumps(..., default=str) builds an encoder on every call, which cost the
# request line about a third of its time (benchmarks/RESULTS.md).
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any
    `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        line.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


def init_logging(app: Flask, log_format: str) -> None:
    """Send the `authserver` loggers to stderr (JSON or text) and log every request.

    No line of ours shows the caller's file and line, so the logging module is told not to
    walk the stack for them (the Logging HOWTO's "Optimization"): that walk was a sixth of
    the request line's cost. The process and thread ids stay: they cost little, and other
    formats in the process need them (gunicorn's `[%(process)d]` raised on every line a
    worker logged without them)."""
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("authserver")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    app.before_request(_start_request)
    app.after_request(_finish_request)


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def request_id_from(incoming: str) -> str:
    """The caller's X-Request-ID when it is sane (a proxy's), else a new one."""
    return incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # a request refused before our first hook ran
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    log_request(
        request.method,
        request.url_rule.rule if request.url_rule is not None else "(no route)",
        response.status_code,
        started=g.request_started,
        remote_addr=request.remote_addr,
        client_id=g.get("client_id"),
        user_id=g.get("user_id"),
    )
    return response


def log_request(
    method: str,
    route: str,
    status: int,
    *,
    started: float,
    remote_addr: str | None,
    request_id: str | None = None,
    client_id: str | None = None,
    user_id: object = None,
) -> None:
    """The one line per request. `request_id` is given where no Flask request runs (the
    formatter takes it from `g` otherwise)."""
    fields: dict[str, Any] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "client_id": client_id,
        "user_id": str(user_id) if user_id is not None else None,
        "remote_addr": remote_addr,
    }
    if request_id is not None:
        fields["request_id"] = request_id
    request_log.info("%s %s %s", method, route, status, extra=fields)
