"""Pushed authorization requests (RFC 9126): parameters a client posted to /par, waiting
for /authorize to name them by their request_uri."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey


class PushedAuthorizationRequest(UUIDPrimaryKey, db.Model):
    """Validated /authorize parameters under a single-use request_uri (stored as SHA-256:
    whoever holds the URI can start the flow it names)."""

    __tablename__ = "pushed_authorization_requests"

    request_uri_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    params: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def find(cls, request_uri: str) -> PushedAuthorizationRequest | None:
        """Row-locked: two /authorize requests with one request_uri, exactly one uses it."""
        stmt = select(cls).where(cls.request_uri_hash == sha256_hex(request_uri)).with_for_update()
        return db.session.scalar(stmt)

    def is_usable(self) -> bool:
        return self.used_at is None and utcnow() < self.expires_at
