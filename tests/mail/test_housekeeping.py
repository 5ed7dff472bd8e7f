"""`authserver cleanup` for mail: delivered messages and dead tokens go after a day; a
message not yet delivered always stays."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.housekeeping import clean
from authserver.identity import verification
from authserver.models import OutboxMessage, VerificationToken
from authserver.outbox import store
from tests.factories import make_user

LONG_AGO = timedelta(days=2)


def test_delivered_messages_go_and_waiting_or_given_up_ones_stay(app: Flask) -> None:
    store.enqueue("mail", {"to": "a@example.com"}).delivered_at = utcnow() - LONG_AGO
    store.enqueue("mail", {"to": "b@example.com"}).delivered_at = utcnow()
    store.enqueue("mail", {"to": "c@example.com"}).created_at = utcnow() - LONG_AGO
    given_up = store.enqueue("mail", {"to": "d@example.com"})
    given_up.next_attempt_at, given_up.created_at = None, utcnow() - LONG_AGO
    db.session.flush()

    assert clean(utcnow())["outbox"] == 1
    kept = {m.payload["to"] for m in db.session.query(OutboxMessage)}
    assert kept == {"b@example.com", "c@example.com", "d@example.com"}


def test_expired_and_used_tokens_go_after_a_day(app: Flask) -> None:
    user = make_user()
    for _ in range(3):
        verification.issue(user, "password_reset", 3600)
    expired, used, live = db.session.query(VerificationToken).all()
    expired.expires_at = utcnow() - LONG_AGO
    used.used_at = utcnow() - LONG_AGO
    db.session.flush()

    assert clean(utcnow())["verification_tokens"] == 2
    assert db.session.query(VerificationToken).one().id == live.id
