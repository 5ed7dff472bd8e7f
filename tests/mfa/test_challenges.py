"""WebAuthn challenges on both databases: taken once, never after expiry, per purpose."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import WebAuthnChallenge

CHALLENGE = b"\x01" * 32


def remember(purpose: str = "passkey", ttl: timedelta = timedelta(minutes=3)) -> None:
    db.session.add(
        WebAuthnChallenge(
            challenge_hash=WebAuthnChallenge.hash_of(CHALLENGE),
            purpose=purpose,
            expires_at=utcnow() + ttl,
        )
    )
    db.session.commit()


def test_a_challenge_is_taken_once(app: Flask) -> None:
    remember()
    assert WebAuthnChallenge.take(CHALLENGE, "passkey") is not None
    db.session.commit()
    assert WebAuthnChallenge.take(CHALLENGE, "passkey") is None


def test_an_expired_challenge_is_not_taken(app: Flask, move_clock: Callable[..., None]) -> None:
    remember()
    move_clock(minutes=3, seconds=1)
    assert WebAuthnChallenge.take(CHALLENGE, "passkey") is None


def test_a_challenge_made_for_one_ceremony_does_not_serve_another(app: Flask) -> None:
    remember(purpose="register")
    assert WebAuthnChallenge.take(CHALLENGE, "passkey") is None
    assert WebAuthnChallenge.take(CHALLENGE, "register") is not None
