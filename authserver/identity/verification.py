"""Single-use, hashed, expiring tokens for the links we mail (verification, reset, change)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import User, VerificationToken

# Longest token a link can carry: new_secret() makes 43 characters; anything longer is junk.
MAX_TOKEN = 100


def issue(user: User, purpose: str, ttl: int, **payload: Any) -> str:
    """Add a token to the caller's unit of work and return the raw value for the link."""
    raw = new_secret()
    db.session.add(
        VerificationToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=sha256_hex(raw),
            payload=payload,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    db.session.flush()
    return raw


def peek(raw: str, purpose: str) -> VerificationToken | None:
    """The usable token behind a link, without using it (a GET shows a form; mail scanners
    that open links must not spend them)."""
    if not _plausible(raw):
        return None
    return VerificationToken.find_usable(raw, purpose)


def use(raw: str, purpose: str) -> VerificationToken | None:
    """Use the token up, race-safe: None when unknown, expired, used, or lost to a race."""
    if not _plausible(raw):
        return None
    return VerificationToken.use(raw, purpose)


def _plausible(raw: str) -> bool:
    return 0 < len(raw) <= MAX_TOKEN and raw.isascii()
