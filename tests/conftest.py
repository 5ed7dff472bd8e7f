"""Fixtures: settings, databases (SQLite always, PostgreSQL when one answers), app, clock."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from hypothesis import settings as hypothesis_settings
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from authserver import clock, create_app
from authserver.config import Settings
from authserver.extensions import db, limiter

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Property-based tests explore freely on a developer's machine, where a new finding is welcome;
# in CI (`CI` set) they replay one fixed sequence, so a green commit stays green. Loaded here,
# before any test module builds its own `settings(...)` on top of the profile.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "explore")


def postgres_admin_url() -> str | None:
    """The server tests may create databases on, or None when there is none."""
    explicit = os.environ.get("AUTHSERVER_TEST_POSTGRES_URL")
    if explicit:
        return explicit
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        if os.environ.get("CI"):
            # CI has PostgreSQL: a silent skip there would hide every PostgreSQL failure.
            pytest.fail("CI: no PostgreSQL on 127.0.0.1:5432 (set AUTHSERVER_TEST_POSTGRES_URL)")
        return None
    return DEFAULT_POSTGRES_URL


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops them at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def _admin(self) -> Any:
        return psycopg.connect(self.admin_url, autocommit=True)

    def create(self) -> str:
        name = f"authserver_test_{uuid.uuid4().hex[:12]}"
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                for name in self.created:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases | None]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        yield None
        return
    databases = PostgresDatabases(admin_url)
    yield databases
    databases.drop_all()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def new_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Callable[[str], str]:
    """Make an empty database of the given backend and return its URL."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'authserver.db'}"
        if postgres_databases is None:
            pytest.skip("no PostgreSQL server (set AUTHSERVER_TEST_POSTGRES_URL)")
        return postgres_databases.create()

    return make


def make_settings(tmp: Path, database_url: str, **overrides: str) -> Settings:
    environ = {
        "AUTHSERVER_DATABASE_URL": database_url,
        "AUTHSERVER_INSTANCE_DIR": str(tmp / "instance"),
        "AUTHSERVER_KEYS_DIR": str(tmp / "keys"),
        "AUTHSERVER_SECRET_KEY": "test-secret-key-" + "x" * 32,
        "AUTHSERVER_ISSUER": "http://127.0.0.1:8000",
        "AUTHSERVER_KEY_RELOAD_INTERVAL": "0",
        # Tests change client rows directly; the cache has tests of its own.
        "AUTHSERVER_CLIENT_CACHE_TTL": "0",
    }
    environ.update({f"AUTHSERVER_{key.upper()}": value for key, value in overrides.items()})
    return Settings.from_env(environ)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def migrated_app(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[Flask]:
    """One migrated app per backend for the session; `app` empties its tables per test."""
    tmp = tmp_path_factory.mktemp(f"app-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'authserver.db'}"
    elif postgres_databases is None:
        pytest.skip("no PostgreSQL server (set AUTHSERVER_TEST_POSTGRES_URL)")
    else:
        url = postgres_databases.create()
    app = create_app(make_settings(tmp, url))
    app.config["TESTING"] = True
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(migrated_app: Flask) -> Iterator[Flask]:
    """The migrated app inside an app context, with every table emptied afterwards."""
    with migrated_app.app_context():
        limiter.reset()  # throttling counters must not leak from one test into the next
        yield migrated_app
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(delete(table))


@pytest.fixture
def http(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def move_clock() -> Iterator[Callable[..., None]]:
    """Move utcnow() forward: move_clock(seconds=61)."""

    def move(**delta: float) -> None:
        clock.advance(timedelta(**delta))

    yield move
    clock.reset()
