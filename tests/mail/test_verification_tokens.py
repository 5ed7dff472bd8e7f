"""Verification tokens: hashed, single-use, expiring, bound to a purpose; race-safe use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import text

from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.identity import verification
from authserver.models import User, VerificationToken
from tests.factories import make_user


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def test_only_the_hash_is_stored(person: User) -> None:
    raw = verification.issue(person, "password_reset", 3600)
    stored = db.session.query(VerificationToken).one()
    assert stored.token_hash == sha256_hex(raw) and raw not in str(stored.payload)


def test_a_token_is_used_once(person: User) -> None:
    raw = verification.issue(person, "password_reset", 3600, email=person.email)
    assert verification.use(raw, "password_reset").payload == {"email": person.email}
    assert verification.use(raw, "password_reset") is None
    assert verification.peek(raw, "password_reset") is None


def test_peeking_does_not_use_a_token(person: User) -> None:
    raw = verification.issue(person, "email_verification", 3600)
    assert verification.peek(raw, "email_verification") is not None
    assert verification.use(raw, "email_verification") is not None


def test_a_token_serves_only_its_purpose(person: User) -> None:
    raw = verification.issue(person, "email_verification", 3600)
    assert verification.use(raw, "password_reset") is None
    assert verification.use(raw, "email_verification") is not None


def test_an_expired_token_is_refused(person: User, move_clock: Callable) -> None:
    raw = verification.issue(person, "password_reset", 600)
    move_clock(seconds=601)
    assert verification.use(raw, "password_reset") is None


@pytest.mark.parametrize("raw", ["", "x" * 101, "café", "\ud800"])
def test_implausible_tokens_are_refused_before_the_database(app: Flask, raw: str) -> None:
    assert verification.use(raw, "password_reset") is None
    assert verification.peek(raw, "password_reset") is None


def test_of_two_uses_at_once_exactly_one_wins(app: Flask, person: User) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second use waits for the first to commit")
    raw = verification.issue(person, "password_reset", 3600)
    db.session.commit()
    assert verification.use(raw, "password_reset") is not None  # holds the row, uncommitted
    results: list = []

    def other_request() -> None:
        with app.app_context():
            results.append(verification.use(raw, "password_reset"))
            db.session.commit()

    thread = threading.Thread(target=other_request)
    thread.start()
    _wait_for_a_blocked_backend()
    db.session.commit()
    thread.join(timeout=30)
    assert results == [None]


def _wait_for_a_blocked_backend() -> None:
    """Until the other request waits on our row lock (so it checks during our write).
    Each poll in a transaction of its own: PostgreSQL reads pg_stat_activity once per
    transaction, so a poll that began before the other request blocked saw it never block."""
    deadline = time.monotonic() + 30
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while connection.execute(query).scalar() == 0:
            assert time.monotonic() < deadline, "the second use never waited for the lock"
            time.sleep(0.01)
