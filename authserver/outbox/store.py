"""Outbox rows: add one in the caller's transaction; claim due ones; record each outcome."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import OutboxMessage

# After this many failed attempts (about half a day with BACKOFF) a message is given up.
MAX_ATTEMPTS = 12
BACKOFF_START = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=4)
# A claimed row is invisible to other workers this long: a worker that dies mid-delivery
# leaves the row to be tried again after it, never lost.
LEASE = timedelta(minutes=5)


def enqueue(kind: str, payload: dict[str, Any]) -> OutboxMessage:
    """Add a message to the caller's unit of work: it exists only if the caller commits."""
    message = OutboxMessage(kind=kind, payload=payload, next_attempt_at=utcnow(), attempts=0)
    db.session.add(message)
    db.session.flush()
    return message


def backoff(attempts: int) -> timedelta:
    """Exponential: 30 s after the first failure, doubling, at most four hours."""
    return min(BACKOFF_START * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def claim_due(now: datetime, limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due messages and count the attempt; the caller commits at once.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets several workers claim side by side, each
    skipping the rows another is claiming; SQLite has one writer, so one worker is enough.
    """
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(db.session.scalars(stmt))
    for message in claimed:
        message.attempts += 1
        message.next_attempt_at = now + LEASE
    db.session.flush()
    return claimed


def mark_delivered(message: OutboxMessage, redacted: dict[str, Any], now: datetime) -> None:
    """Delivered: keep what an operator needs to trace it, drop what was secret (links)."""
    message.delivered_at = now
    message.next_attempt_at = None
    message.payload = redacted
    message.last_error = None


def mark_failed(message: OutboxMessage, error: str, now: datetime, *, permanent: bool) -> None:
    """Try again after the backoff, unless the failure is permanent or attempts ran out."""
    message.last_error = error[:500]
    if permanent or message.attempts >= MAX_ATTEMPTS:
        message.next_attempt_at = None
    else:
        message.next_attempt_at = now + backoff(message.attempts)


def retry_given_up() -> int:
    """Make every given-up message due again (after the operator fixed the cause)."""
    revived = OutboxMessage.given_up()
    for message in revived:
        message.attempts = 0
        message.next_attempt_at = utcnow()
    db.session.flush()
    return len(revived)
