"""Organizations, their members with service-declared roles, and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models.base import JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey
from authserver.models.rbac import Role
from authserver.models.users import User

if TYPE_CHECKING:
    from authserver.models.teams import Team

INVITATION_STATES = ("pending", "accepted", "declined", "revoked", "expired")

# A member may hold several roles. A role still held cannot be deleted (RESTRICT): a manifest
# sync must say so (409) or prune the assignments explicitly.
member_roles = Table(
    "member_roles",
    db.metadata,
    Column(
        "member_id",
        ForeignKey("organization_members.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role_id", ForeignKey("roles.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

# The roles an invitation offers. A role removed from its manifest just drops off the offer.
invitation_roles = Table(
    "invitation_roles",
    db.metadata,
    Column("invitation_id", ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Organization(UUIDPrimaryKey, Timestamps, db.Model):
    """A tenant that groups people; its owners and admins are members with `auth:` roles."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # JSON-typed columns hold values that no query filters on (DESIGN: JSONB on PostgreSQL).
    attributes: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)

    members: Mapped[list[OrganizationMember]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", passive_deletes=True
    )

    @classmethod
    def find_by_slug(cls, slug: str) -> Organization | None:
        return db.session.scalar(select(cls).where(cls.slug == slug))

    @classmethod
    def lock(cls, organization_id: uuid.UUID) -> bool:
        """Row-lock the organization until the transaction ends; False when it is gone.
        FOR NO KEY UPDATE (key_share): inserts that only reference the row still proceed."""
        stmt = select(cls.id).where(cls.id == organization_id)
        return db.session.scalar(stmt.with_for_update(key_share=True)) is not None


class OrganizationMember(UUIDPrimaryKey, Timestamps, db.Model):
    """One person's membership of one organization."""

    __tablename__ = "organization_members"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )

    organization: Mapped[Organization] = relationship(back_populates="members")
    user: Mapped[User] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=member_roles)
    teams: Mapped[list[Team]] = relationship(secondary="team_members", viewonly=True)


class Invitation(UUIDPrimaryKey, db.Model):
    """An offer to join an organization with some roles, sent to an email address."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'accepted', 'declined', 'revoked', 'expired')",
            name="state_known",
        ),
        # One pending invitation per (org, email); answered ones stay as history.
        Index(
            "uq_invitations_pending_org_email",
            "organization_id",
            "email",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index("ix_invitations_email", "email"),
        Index("ix_invitations_organization_id", "organization_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(String(255))
    inviter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    organization: Mapped[Organization] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=invitation_roles)
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
    teams: Mapped[list[Team]] = relationship(secondary="invitation_teams")
