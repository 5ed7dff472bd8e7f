"""People: users, their upstream accounts, and the operators' platform roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    func,
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
        # The operators' search (admin console) reads a prefix range in index order, so a
        # page of 50 reads about 50 index entries. On PostgreSQL, LIKE 'prefix%' and ORDER
        # BY ... USING ~<~ use a btree only with the pattern operator class (the unique
        # index follows the database collation and serves neither).
        Index("ix_users_email_prefix", "email", postgresql_ops={"email": "varchar_pattern_ops"}),
        # PostgreSQL only: SQLite cannot reflect an expression index (and scans its few rows).
        Index(
            "ix_users_name_prefix",
            func.lower(text("display_name")).label("name_lower"),
            postgresql_ops={"name_lower": "varchar_pattern_ops"},
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
    def lock(cls, user_id: uuid.UUID) -> None:
        """Row-lock the person until the transaction ends (PostgreSQL), so that changes to
        their own rows (factors) made by parallel requests run one at a time."""
        db.session.scalar(select(cls.id).where(cls.id == user_id).with_for_update(key_share=True))

    @classmethod
    def find_by_email(cls, email: str) -> User | None:
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))

    @classmethod
    def search(cls, query: str, *, offset: int = 0, limit: int = 50) -> list[User]:
        """People whose email starts with `query`, in email order, then those whose name
        (not email) starts with it, in name order; any case. An empty query lists everyone.
        Each part is one ordered index range, so no page reads more than it shows (plus
        a count of the email part when a page lies wholly past it)."""
        prefix = query.strip().lower()
        if not prefix:
            return list(db.session.scalars(cls.search_statement("", "email", offset, limit)))
        by_email = list(db.session.scalars(cls.search_statement(prefix, "email", offset, limit)))
        if len(by_email) == limit:
            return by_email
        skipped = 0  # name matches on earlier pages
        if offset and not by_email:
            count = select(func.count()).select_from(cls).where(cls._email_starts(prefix))
            skipped = max(offset - (db.session.scalar(count) or 0), 0)
        by_name = cls.search_statement(prefix, "name", skipped, limit - len(by_email))
        return by_email + list(db.session.scalars(by_name))

    @classmethod
    def _email_starts(cls, prefix: str) -> Any:
        return cls.email.like(like_prefix(prefix), escape="\\")

    @classmethod
    def search_statement(cls, prefix: str, part: str, offset: int, limit: int | None) -> Select:
        """One part of `search`: the people whose email (part "email") or only whose name
        (part "name") starts with `prefix`, in the order of that part's index."""
        stmt = select(cls).offset(offset).limit(limit)
        if not prefix:
            return stmt.order_by(cls.email)  # the unique index, in the database's collation
        email_matches = cls._email_starts(prefix)
        name = func.lower(cls.display_name)
        if part == "email":
            return stmt.where(email_matches).order_by(*_pattern_order("users.email", cls.email))
        # The pattern is made here, not in SQL: the planner needs a constant prefix.
        name_matches = name.like(like_prefix(prefix), escape="\\")
        return stmt.where(name_matches, ~email_matches).order_by(
            *_pattern_order("lower(users.display_name)", name),
            *_pattern_order("users.email", cls.email),
        )


def _pattern_order(sql: str, expression: Any) -> tuple[Any, ...]:
    """ORDER BY in the pattern operator class's order on PostgreSQL (so the pattern index
    serves it); elsewhere the plain order, which is the same for SQLite (bytewise)."""
    if db.engine.dialect.name == "postgresql":
        return (text(f"{sql} USING ~<~"),)
    return (expression,)


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
