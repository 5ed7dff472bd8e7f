"""People: users, their upstream accounts, and the operators' platform roles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.extensions import db
from authserver.models.base import Timestamps, UTCDateTime, UUIDPrimaryKey

PLATFORM_ROLES = ("root", "admin")


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively; we store them trimmed and lower-cased."""
    return email.strip().lower()


class User(UUIDPrimaryKey, Timestamps, db.Model):
    """A person. Created on first SSO sign-in, or by an operator with a local password."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(255), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    oauth_accounts: Mapped[list[OAuthAccount]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    platform_role: Mapped[PlatformRole | None] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's user interface (its UserMixin would shadow the is_active column).
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def find_by_email(cls, email: str) -> User | None:
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))


class OAuthAccount(UUIDPrimaryKey, Timestamps, db.Model):
    """A user's identity at an upstream OpenID provider, matched on (provider, subject).

    Upstream access and refresh tokens are deliberately not stored: we only need the identity,
    and a stored token would be one more secret to leak.
    """

    __tablename__ = "oauth_accounts"
    __table_args__ = (UniqueConstraint("provider", "provider_subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(50))
    provider_subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="oauth_accounts")

    @classmethod
    def find(cls, provider: str, subject: str) -> OAuthAccount | None:
        stmt = select(cls).where(cls.provider == provider, cls.provider_subject == subject)
        return db.session.scalar(stmt)


class PlatformRole(Timestamps, db.Model):
    """An operator's role over the whole server (not an organization's): root or admin."""

    __tablename__ = "platform_roles"
    __table_args__ = (CheckConstraint("role IN ('root', 'admin')", name="role_known"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(12))

    user: Mapped[User] = relationship(back_populates="platform_role")
