"""JSON request logs with a request id, and audit events as log lines once committed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import audit
from authserver.extensions import db
from authserver.logs import JsonFormatter
from tests.oauth_helpers import post_token, register_client

Logged = Callable[[str], list[dict]]


@pytest.fixture
def logged() -> Iterator[Logged]:
    """The JSON lines one `authserver.*` logger wrote during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("authserver")
    logger.addHandler(handler)

    def lines_of(name: str) -> list[dict]:
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        return [line for line in lines if line["logger"] == name]

    yield lines_of
    logger.removeHandler(handler)


def test_a_sane_request_id_is_echoed_and_logged(http: FlaskClient, logged: Logged) -> None:
    response = http.get("/healthz", headers={"X-Request-ID": "edge-7f3a:42"})
    assert response.headers["X-Request-ID"] == "edge-7f3a:42"
    [line] = logged("authserver.request")
    assert line["request_id"] == "edge-7f3a:42"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/healthz", 200)
    assert line["duration_ms"] >= 0


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 65, "tab\there", 'quote"d'])
def test_a_missing_or_odd_request_id_is_replaced(
    http: FlaskClient, logged: Logged, incoming: str
) -> None:
    response = http.get("/healthz", headers={"X-Request-ID": incoming} if incoming else {})
    made = response.headers["X-Request-ID"]
    assert made != incoming and len(made) == 32
    assert logged("authserver.request")[0]["request_id"] == made


def test_the_request_line_names_the_route_and_client_not_the_query(
    app: Flask, http: FlaskClient, logged: Logged
) -> None:
    registered = register_client(
        service_name=None, grant_types=["client_credentials"], scopes=["services:sync"]
    )
    post_token(http, registered, {"grant_type": "client_credentials"})
    http.get("/authorize?client_id=x&code_challenge=secret-challenge&state=s3cr3t")

    token_line, authorize_line = logged("authserver.request")
    assert token_line["route"] == "/token" and token_line["client_id"] == registered.client_id
    assert authorize_line["route"] == "/authorize"
    assert "s3cr3t" not in json.dumps(authorize_line)


def test_an_audit_event_becomes_a_log_line_when_committed(app: Flask, logged: Logged) -> None:
    with app.test_request_context(headers={"X-Request-ID": "req-1"}):
        app.preprocess_request()
        audit.record("client.created", target_type="client", target_id="abc", name="Notes")
        assert logged("authserver.audit") == []
        db.session.commit()
    [line] = logged("authserver.audit")
    assert line["event_type"] == "client.created" and line["target_id"] == "abc"
    assert line["details"] == {"name": "Notes"} and line["request_id"] == "req-1"


def test_a_rolled_back_audit_event_is_never_logged(app: Flask, logged: Logged) -> None:
    with app.test_request_context():
        audit.record("client.deleted", target_type="client", target_id="abc")
        db.session.rollback()
        db.session.commit()
    assert logged("authserver.audit") == []


def test_other_log_formats_in_the_process_still_work(app: Flask) -> None:
    """init_logging tunes the logging module for the whole process; gunicorn's workers
    format their own lines with the process id, and must not fail to (its default format)."""
    from gunicorn.glogging import Logger

    record = logging.getLogger("gunicorn.error").makeRecord(
        "gunicorn.error", logging.INFO, "", 0, "Worker exiting (pid: %s)", (42,), None
    )
    line = logging.Formatter(Logger.error_fmt, Logger.datefmt).format(record)
    assert line.endswith("[INFO] Worker exiting (pid: 42)")
    assert logging.Formatter("%(thread)d %(process)d").format(record)
