"""The outbox: a message is sent only for a committed change, survives failed deliveries,
and is claimed by one worker at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from authserver.clock import utcnow
from authserver.config import Smtp
from authserver.extensions import db
from authserver.mail import messages
from authserver.mail.transport import LogTransport, MailHandler, SmtpTransport
from authserver.models import OutboxMessage
from authserver.outbox import store, worker
from tests.e2e.processes import free_port
from tests.smtp import Mailbox, link_in


def queue_reset_mail(to: str = "ada@example.com") -> OutboxMessage:
    return messages.queue(
        "password_reset", to, name="Ada", email=to,
        link="http://127.0.0.1:8000/reset-password/secret-token", minutes=60,
    )  # fmt: skip


def test_a_committed_message_is_delivered_over_smtp_with_both_parts(
    app: Flask, mailbox: Mailbox, deliver: Callable
) -> None:
    queue_reset_mail()
    db.session.commit()

    assert deliver().delivered == 1

    message = mailbox.only("ada@example.com")
    assert message["From"] == "authserver@127.0.0.1"
    assert message["Subject"] == "Reset your password for 127.0.0.1:8000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert link_in(message) == "/reset-password/secret-token"
    assert "If this was not you" in message.get_body(("plain",)).get_content()
    assert 'name="color-scheme" content="light dark"' in message.get_body(("html",)).get_content()


def test_a_rolled_back_transaction_sends_nothing(
    app: Flask, mailbox: Mailbox, deliver: Callable
) -> None:
    queue_reset_mail()
    db.session.rollback()

    assert deliver().handled == 0
    assert mailbox.messages == [] and db.session.query(OutboxMessage).count() == 0


def test_a_failed_delivery_is_kept_and_sent_on_the_next_try(
    app: Flask, mailbox: Mailbox, deliver: Callable, move_clock: Callable
) -> None:
    mailbox.transient_failures = 1
    message_id = queue_reset_mail().id
    db.session.commit()

    assert deliver().failed == 1
    kept = db.session.get(OutboxMessage, message_id)
    assert kept.delivered_at is None and kept.attempts == 1 and "451" in kept.last_error
    assert deliver().handled == 0  # not before its backoff

    move_clock(seconds=31)
    assert deliver().delivered == 1
    assert len(mailbox.to("ada@example.com")) == 1


def test_an_unreachable_server_is_retried_later(app: Flask, move_clock: Callable) -> None:
    message_id = queue_reset_mail().id
    db.session.commit()
    closed = SmtpTransport(Smtp(host="127.0.0.1", port=free_port(), security="none"))

    report = worker.deliver_due({"mail": MailHandler(closed, "auth@example.com")})

    kept = db.session.get(OutboxMessage, message_id)
    assert report.failed == 1 and not kept.is_given_up
    assert kept.next_attempt_at > utcnow() and "ConnectionRefusedError" in kept.last_error


def test_a_refused_recipient_is_given_up_and_retry_revives_it(
    app: Flask, mailbox: Mailbox, deliver: Callable
) -> None:
    mailbox.refuse_recipients = True
    message_id = queue_reset_mail().id
    db.session.commit()

    deliver()
    assert db.session.get(OutboxMessage, message_id).is_given_up

    mailbox.refuse_recipients = False
    assert store.retry_given_up() == 1
    db.session.commit()
    assert deliver().delivered == 1


def test_a_message_is_given_up_after_the_last_attempt(app: Flask) -> None:
    message = queue_reset_mail()
    message.attempts = store.MAX_ATTEMPTS
    store.mark_failed(message, "timeout", utcnow(), permanent=False)
    assert message.is_given_up


def test_a_delivered_message_keeps_no_link(app: Flask, mailbox: Mailbox, deliver: Callable) -> None:
    message_id = queue_reset_mail().id
    db.session.commit()
    deliver()

    kept = db.session.get(OutboxMessage, message_id)
    assert kept.payload == {
        "to": "ada@example.com",
        "subject": "Reset your password for 127.0.0.1:8000",
        "template": "password_reset",
    }


def test_development_without_smtp_writes_the_message_to_the_log(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    queue_reset_mail()
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="authserver.mail"):
        report = worker.deliver_due({"mail": MailHandler(LogTransport(), "auth@example.com")})
    assert report.delivered == 1
    assert "/reset-password/secret-token" in caplog.text


def test_production_without_smtp_queues_nothing(app: Flask, settings_with: Callable) -> None:
    settings_with(env="production", smtp=None)
    assert queue_reset_mail() is None
    assert db.session.query(OutboxMessage).count() == 0


def test_a_message_of_an_unknown_kind_is_given_up(app: Flask, deliver: Callable) -> None:
    message_id = store.enqueue("webhook", {"url": "https://example.com"}).id
    db.session.commit()
    assert deliver().failed == 1
    assert db.session.get(OutboxMessage, message_id).is_given_up


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (10, 4 * 3600), (12, 4 * 3600)]
)
def test_backoff_doubles_up_to_four_hours(attempts: int, seconds: int) -> None:
    assert store.backoff(attempts) == timedelta(seconds=seconds)


def test_two_workers_never_claim_the_same_message(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite one worker runs")
    for _ in range(4):
        queue_reset_mail()
    db.session.commit()
    # The first worker has claimed but not committed yet: its rows stay locked.
    first = {m.id for m in store.claim_due(utcnow(), 3)}
    second: set = set()

    def other_worker() -> None:
        with app.app_context():
            second.update(m.id for m in store.claim_due(utcnow(), 3))
            db.session.commit()

    thread = threading.Thread(target=other_worker)
    thread.start()
    thread.join(timeout=30)
    db.session.commit()
    assert len(first) == 3 and len(second) == 1 and not first & second
