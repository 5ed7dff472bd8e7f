"""Verification tokens: single-use, expiring, hashed links mailed to a person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey
from authserver.models.users import User

PURPOSES = ("email_verification", "email_change", "password_reset")


class VerificationToken(UUIDPrimaryKey, db.Model):
    """A link's token: only its SHA-256 is stored. The payload binds it to what it proves
    (the address it was mailed to), so a link outlives no change of that address."""

    __tablename__ = "verification_tokens"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('email_verification', 'email_change', 'password_reset')",
            name="purpose_known",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @classmethod
    def find_usable(cls, raw: str, purpose: str) -> VerificationToken | None:
        """The live token for a page that only shows a form (a GET never uses it up)."""
        return db.session.scalar(select(cls).where(*cls._usable(raw, purpose, utcnow())).limit(1))

    @classmethod
    def use(cls, raw: str, purpose: str) -> VerificationToken | None:
        """Mark the token used in the statement that checks it: of two requests at once,
        exactly one gets the row back (PostgreSQL locks it; SQLite has one writer)."""
        now = utcnow()
        stmt = (
            update(cls).where(*cls._usable(raw, purpose, now)).values(used_at=now).returning(cls.id)
        )
        token_id = db.session.execute(stmt).scalar()
        return None if token_id is None else db.session.get(cls, token_id, populate_existing=True)

    @classmethod
    def _usable(cls, raw: str, purpose: str, now: datetime) -> tuple[Any, ...]:
        return (
            cls.token_hash == sha256_hex(raw),
            cls.purpose == purpose,
            cls.used_at.is_(None),
            cls.expires_at > now,
        )

    @classmethod
    def retire_all(cls, user_id: uuid.UUID, purpose: str) -> None:
        """Use up every open token of one purpose: a reset done, the others are void."""
        db.session.execute(
            update(cls)
            .where(cls.user_id == user_id, cls.purpose == purpose, cls.used_at.is_(None))
            .values(used_at=utcnow())
        )
