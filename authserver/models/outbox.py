"""The outbox: work that reaches outside (mail now; back-channel logout, webhooks later).

A row is written in the transaction that causes it, so a rolled-back change leaves none,
and a committed one is delivered by a worker with retries (DESIGN "Boundaries").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey


class OutboxMessage(UUIDPrimaryKey, db.Model):
    """One piece of outside work of some kind; its handler reads the payload.

    Due: not delivered and next_attempt_at has come. Given up: not delivered and no next
    attempt (a permanent failure, or too many attempts); `authserver mail retry` revives it.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The worker's query: due rows in order. Delivered rows are not in the index.
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))

    @property
    def is_given_up(self) -> bool:
        return self.delivered_at is None and self.next_attempt_at is None

    @classmethod
    def given_up(cls) -> list[OutboxMessage]:
        stmt = select(cls).where(cls.delivered_at.is_(None), cls.next_attempt_at.is_(None))
        return list(db.session.scalars(stmt))
