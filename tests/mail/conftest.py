"""Mail tests: a real SMTP server on loopback (aiosmtpd), and the app configured to use it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_migrate import upgrade

from authserver import create_app
from authserver.extensions import db
from authserver.outbox import worker
from tests import smtp
from tests.api.conftest import api, org, owner  # noqa: F401 - an org and its owner, by API
from tests.conftest import PostgresDatabases, make_settings
from tests.smtp import Mailbox

# The loopback SMTP server's fixtures (tests/smtp.py, shared with tests/e2e).
smtp_server = smtp.smtp_server
mailbox = smtp.mailbox


@pytest.fixture(scope="session")
def migrated_app(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
    smtp_server: tuple[Controller, Mailbox],
) -> Iterator[Flask]:
    """As tests/conftest.py's, with SMTP pointed at the loopback server."""
    tmp = tmp_path_factory.mktemp(f"mail-app-{backend}")
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'authserver.db'}"
    elif postgres_databases is None:
        pytest.skip("no PostgreSQL server (set AUTHSERVER_TEST_POSTGRES_URL)")
    else:
        url = postgres_databases.create()
    controller, _ = smtp_server
    settings = make_settings(
        tmp, url, smtp_host="127.0.0.1", smtp_port=str(controller.port), smtp_security="none"
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def deliver(app: Flask) -> Callable[[], worker.Report]:
    """Run the worker once, as `authserver outbox deliver --once` does."""
    return lambda: worker.deliver_due(worker.handlers_of(app))


@pytest.fixture
def settings_with(app: Flask) -> Iterator[Callable[..., None]]:
    """Change settings for one test: settings_with(signup=True)."""
    original = app.extensions["authserver.settings"]

    def change(**values: Any) -> None:
        app.extensions["authserver.settings"] = dataclasses.replace(original, **values)

    yield change
    app.extensions["authserver.settings"] = original
