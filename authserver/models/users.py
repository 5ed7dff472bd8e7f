"""People: users, their upstream accounts, and the operators' platform roles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.extensions import db
from authserver.models.base import Timestamps, UTCDateTime, UUIDPrimaryKey

PLATFORM_ROLES = ("root", "admin")


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively; we store them trimmed and lower-cased."""
    return email.strip().lower()


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` taken literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class User(UUIDPrimaryKey, Timestamps, db.Model):
    """A person. Created on first SSO sign-in, or by an operator with a local password."""

    __tablename__ = "users"
    __table_args__ = (
        # The operators' search matches the start of an email or a name (admin console). On
        # PostgreSQL a LIKE 'prefix%' uses a btree only with the pattern operator class; the
        # unique index on email follows the database collation and cannot serve it.
        Index(
            "ix_users_email_pattern",
            "email",
            postgresql_ops={"email": "varchar_pattern_ops"},
        ),
        # PostgreSQL only: SQLite cannot reflect an expression index (and scans anyway).
        Index(
            "ix_users_display_name_pattern",
            func.lower(text("display_name")).label("display_name_lower"),
            postgresql_ops={"display_name_lower": "varchar_pattern_ops"},
        ).ddl_if(dialect="postgresql"),
    )

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

    @classmethod
    def search(cls, query: str, *, offset: int = 0, limit: int = 50) -> list[User]:
        """People whose email or name starts with `query` (any case), by email; an empty
        query lists everyone. Both tests are index range scans (the pattern indexes)."""
        stmt = select(cls).order_by(cls.email).offset(offset).limit(limit)
        prefix = query.strip().lower()
        if prefix:
            # The pattern is made here, not in SQL: the planner needs a constant prefix.
            pattern = like_prefix(prefix)
            stmt = stmt.where(
                or_(
                    cls.email.like(pattern, escape="\\"),
                    func.lower(cls.display_name).like(pattern, escape="\\"),
                )
            )
        return list(db.session.scalars(stmt))


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
