"""/metrics: off unless enabled; then Prometheus text with requests by endpoint and status,
latency, tokens by grant, sign-ins by method and result, and refresh reuse detections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from prometheus_client import REGISTRY

from authserver import create_app
from authserver.extensions import db
from tests.conftest import make_settings
from tests.factories import make_service
from tests.oauth_helpers import post_token, register_client


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metered(tmp_path: Path, new_database_url: Callable[[str], str]) -> Flask:
    app = create_app(make_settings(tmp_path, new_database_url("sqlite"), metrics="on"))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
    app.config["WTF_CSRF_ENABLED"] = False  # this test counts, it does not test forms
    return app


def test_metrics_are_off_unless_enabled(http) -> None:  # noqa: ANN001
    assert http.get("/metrics").status_code == 404


def test_requests_and_tokens_are_counted(metered: Flask) -> None:
    http = metered.test_client()
    with metered.app_context():
        make_service("billing")
        service = register_client(
            service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
        )
        before = sample(
            "authserver_http_requests_total", endpoint="/token", method="POST", status="200"
        )
        issued = sample("authserver_tokens_issued_total", grant_type="client_credentials")
        for _ in range(3):
            post_token(http, service, {"grant_type": "client_credentials"})

    text = http.get("/metrics").get_data(as_text=True)

    assert "authserver_http_request_duration_seconds_bucket" in text
    assert (
        sample("authserver_http_requests_total", endpoint="/token", method="POST", status="200")
        == before + 3
    )
    assert sample("authserver_tokens_issued_total", grant_type="client_credentials") == issued + 3


def test_sign_in_failures_are_counted_by_method(metered: Flask) -> None:
    before = sample("authserver_sign_ins_total", method="pwd", result="failure")
    metered.test_client().post("/sign-in", data={"email": "a@example.com", "password": "x" * 12})
    assert sample("authserver_sign_ins_total", method="pwd", result="failure") == before + 1
    with metered.app_context():
        db.engine.dispose()


def test_published_documents_are_counted_though_flask_never_sees_them(metered: Flask) -> None:
    http = metered.test_client()
    labels = {"endpoint": "/jwks.json", "method": "GET"}
    before = sample("authserver_http_requests_total", **labels, status="200")
    not_modified = sample("authserver_http_requests_total", **labels, status="304")
    etag = http.get("/jwks.json").headers["ETag"]
    http.get("/jwks.json", headers={"If-None-Match": etag})
    assert sample("authserver_http_requests_total", **labels, status="200") == before + 1
    assert sample("authserver_http_requests_total", **labels, status="304") == not_modified + 1
    assert sample("authserver_http_request_duration_seconds_count", endpoint="/jwks.json") >= 2
    with metered.app_context():
        db.engine.dispose()
