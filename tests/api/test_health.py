"""/healthz and /readyz, and how unknown paths and crashes are answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import create_app
from authserver.extensions import db
from authserver.keys import KeyStore
from tests.conftest import make_settings
from tests.postgres_restart import drop_app_connections


def test_healthz_answers_while_the_process_is_up(http: FlaskClient) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_is_ready_with_database_migrations_and_key(http: FlaskClient) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "signing_key": "ok"}


def test_readyz_is_not_ready_without_a_signing_key(
    app: Flask,
    http: FlaskClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = KeyStore(tmp_path / "no-keys", app.extensions["authserver.keys"].schedule)
    monkeypatch.setitem(app.extensions, "authserver.keys", empty)
    response = http.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "no active signing key" in response.json["checks"]["signing_key"]


def test_readyz_is_not_ready_before_migrations(
    new_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path, new_database_url("sqlite")))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("migrations pending")


def test_readyz_is_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, "postgresql://postgres@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unreachable"


def test_an_unknown_page_gets_the_friendly_error_page(http: FlaskClient) -> None:
    response = http.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"This page does not exist" in response.data and b"Traceback" not in response.data


def test_an_unknown_api_path_gets_problem_json(http: FlaskClient) -> None:
    response = http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404


def test_a_crash_is_a_friendly_500_without_a_traceback(
    new_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path, new_database_url("sqlite")))

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"secret internals" not in response.data and b"Traceback" not in response.data


def test_readyz_is_ready_again_once_the_database_is_back(app: Flask, http: FlaskClient) -> None:
    """After an outage the pool may still hold connections the database dropped; the first
    one /readyz takes must not report a database that is up as unreachable."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connections to drop")
    assert http.get("/readyz").status_code == 200  # the pool now holds a connection
    assert drop_app_connections() >= 1
    response = http.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["database"] == "ok"
