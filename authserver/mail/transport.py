"""Mail transport: SMTP through the standard library, or the log in development.

The outbox's "mail" handler builds the message from its payload and hands it over here.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

from flask import Flask

from authserver.config import Settings, Smtp
from authserver.outbox.worker import PermanentFailure

log = logging.getLogger("authserver.mail")
TIMEOUT_SECONDS = 30


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """One SMTP connection per message: a worker sends few, and a relay may drop idle ones."""

    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as connection:
                if self.smtp.user and self.smtp.password:
                    connection.login(self.smtp.user, self.smtp.password)
                connection.send_message(message)
        except smtplib.SMTPAuthenticationError:
            raise  # our credentials, not the message: retried until the operator fixes them
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"recipient refused: {_codes(error.recipients)}") from None
        except smtplib.SMTPResponseException as error:
            # RFC 5321 §4.2.1: 5yz is a permanent failure, 4yz a transient one.
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(f"SMTP {error.smtp_code}") from None
            raise

    def _connect(self) -> smtplib.SMTP:
        # The relay's certificate and host name are verified (RFC 8314 §4.1; RFC 3207 §4.1).
        context = ssl.create_default_context(cafile=self.smtp.ca_file)
        if self.smtp.security == "tls":
            return smtplib.SMTP_SSL(
                self.smtp.host, self.smtp.port, timeout=TIMEOUT_SECONDS, context=context
            )
        connection = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=TIMEOUT_SECONDS)
        if self.smtp.security == "starttls":
            try:
                connection.starttls(context=context)
            except BaseException:
                connection.close()
                raise
        return connection


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(str(code) for code, _ in recipients.values())


class LogTransport:
    """Development without SMTP: the whole message goes to the log, never dropped."""

    def send(self, message: EmailMessage) -> None:
        text = message.get_body(("plain",))
        log.info(
            "mail (no SMTP configured) to %s: %s\n%s",
            message["To"],
            message["Subject"],
            text.get_content() if text is not None else "",
        )


class MailHandler:
    """The outbox handler of kind "mail": payload {to, subject, text, html}."""

    def __init__(self, transport: Transport, mail_from: str) -> None:
        self.transport = transport
        self.mail_from = mail_from

    def deliver(self, payload: dict[str, Any]) -> None:
        self.transport.send(build_message(payload, self.mail_from))

    def redact(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The body held a link with a token: once sent, only who and what are kept."""
        return {key: payload.get(key) for key in ("to", "subject", "template")}


def build_message(payload: dict[str, Any], mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    # RFC 3834 §5: an automatic message; auto-responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    return message


def init_mail(app: Flask, settings: Settings) -> None:
    """Register the outbox's "mail" handler (production without SMTP has none: nothing is
    queued there, see messages.queue)."""
    handlers = app.extensions.setdefault("authserver.outbox_handlers", {})
    transport = build_transport(settings)
    if transport is not None:
        handlers["mail"] = MailHandler(transport, settings.mail_from)


def build_transport(settings: Settings) -> Transport | None:
    """SMTP when configured; the log in development; None (nothing sent) in production."""
    if settings.smtp is not None:
        return SmtpTransport(settings.smtp)
    if not settings.is_production:
        return LogTransport()
    return None
