"""Mail tests: a real SMTP server on loopback (aiosmtpd), and the app configured to use it."""

from __future__ import annotations

import dataclasses
import email
import re
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_migrate import upgrade

from authserver import create_app
from authserver.extensions import db
from authserver.outbox import worker
from tests.api.conftest import api, org, owner  # noqa: F401 - an org and its owner, by API
from tests.conftest import PostgresDatabases, make_settings
from tests.e2e.processes import free_port


class Mailbox:
    """The loopback SMTP server's handler: keeps what it accepts; can be told to refuse."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.transient_failures = 0
        self.refuse_recipients = False

    def reset(self) -> None:
        self.messages.clear()
        self.transient_failures = 0
        self.refuse_recipients = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:  # noqa: N802, E501
        if self.refuse_recipients:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.transient_failures:
            self.transient_failures -= 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def only(self, address: str) -> EmailMessage:
        received = self.to(address)
        assert len(received) == 1, [m["Subject"] for m in received]
        return received[0]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Controller, Mailbox]) -> Iterator[Mailbox]:
    _, box = smtp_server
    box.reset()
    yield box
    box.reset()


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
    """Run the worker once, as `authserver mail deliver --once` does."""
    return lambda: worker.deliver_due(worker.handlers_of(app))


@pytest.fixture
def settings_with(app: Flask) -> Iterator[Callable[..., None]]:
    """Change settings for one test: settings_with(signup=True)."""
    original = app.extensions["authserver.settings"]

    def change(**values: Any) -> None:
        app.extensions["authserver.settings"] = dataclasses.replace(original, **values)

    yield change
    app.extensions["authserver.settings"] = original


LINK = re.compile(r"http://127\.0\.0\.1:8000(/\S+)")


def link_in(message: EmailMessage) -> str:
    """The path of the one link in the plain-text part (the HTML part must carry it too)."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    links = LINK.findall(text)
    assert len(links) == 1, text
    assert links[0] in html
    return links[0]
