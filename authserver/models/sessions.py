"""Server-side sign-in sessions: the cookie holds a random token, this table its hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey
from authserver.models.users import User


class Session(UUIDPrimaryKey, db.Model):
    """One signed-in browser. Ending it deletes the row."""

    __tablename__ = "sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    # OIDC `amr` values, e.g. ["pwd"] or ["google"].
    auth_methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))

    user: Mapped[User] = relationship()

    def is_expired(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return now >= self.expires_at or now >= self.idle_expires_at

    @classmethod
    def all_of(cls, user_id: uuid.UUID) -> list[Session]:
        return list(db.session.scalars(select(cls).where(cls.user_id == user_id)))

    @classmethod
    def find_active(cls, raw_token: str) -> Session | None:
        found = db.session.scalar(select(cls).where(cls.token_hash == sha256_hex(raw_token)))
        if found is None or found.is_expired():
            return None
        return found
