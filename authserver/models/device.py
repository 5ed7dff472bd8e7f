"""Device authorizations (RFC 8628): a device code polled by a client, a user code typed
by a person, both stored only as SHA-256."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey
from authserver.models.clients import OAuthClient
from authserver.models.users import User


class DeviceAuthorization(UUIDPrimaryKey, db.Model):
    """One device authorization request, from /device_authorization to its tokens.

    Until a person decides, `user_id` and `approved` are empty; the person's decision
    records who, in which session and how they signed in, as a code would."""

    __tablename__ = "device_authorizations"

    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # RFC 8628 §3.5: the polling interval, raised by 5 s at every slow_down.
    interval: Mapped[int] = mapped_column(Integer)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auth_methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    approved: Mapped[bool | None] = mapped_column(Boolean)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the tokens are issued: the device code is single-use.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    family_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("grant_families.id", ondelete="SET NULL"), index=True
    )

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User | None] = relationship()

    @classmethod
    def find_by_device_code(
        cls, raw: str, *, for_update: bool = False
    ) -> DeviceAuthorization | None:
        stmt = select(cls).where(cls.device_code_hash == sha256_hex(raw))
        if for_update:  # two concurrent polls must not both issue tokens
            stmt = stmt.with_for_update()
        return db.session.scalar(stmt)

    @classmethod
    def find_undecided(cls, user_code: str) -> DeviceAuthorization | None:
        """The live, undecided request of a (normalized) user code."""
        stmt = select(cls).where(
            cls.user_code_hash == sha256_hex(user_code),
            cls.approved.is_(None),
            cls.expires_at > utcnow(),
        )
        return db.session.scalar(stmt)

    @classmethod
    def user_code_taken(cls, user_code: str) -> bool:
        stmt = select(cls.id).where(cls.user_code_hash == sha256_hex(user_code))
        return db.session.scalar(stmt) is not None

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_scope(self) -> str:
        return self.scope
