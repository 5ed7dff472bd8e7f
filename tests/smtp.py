"""A real SMTP server on loopback (aiosmtpd as a library) for the mail tests: it keeps
what it accepts, and can be told to fail for a while or refuse recipients."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

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
    """Started once; stopped at the end of the session."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, box
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Controller, Mailbox]) -> Iterator[Mailbox]:
    _, box = smtp_server
    box.reset()
    yield box
    box.reset()


LINK = re.compile(r"http://127\.0\.0\.1:\d+(/\S+)")


def link_in(message: EmailMessage) -> str:
    """The path of the one link in the plain-text part (the HTML part must carry it too)."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    links = LINK.findall(text)
    assert len(links) == 1, text
    assert links[0] in html
    return links[0]
