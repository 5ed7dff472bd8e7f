"""API keys: long-lived secrets of a person or an organization, exchanged for short-lived
access tokens (RFC 8693); stored as SHA-256, shown once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Row,
    String,
    Table,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey
from authserver.models.orgs import Organization
from authserver.models.rbac import Permission, Role, role_permissions
from authserver.models.teams import Team, team_roles
from authserver.models.users import User

# The service roles an organization's key acts with. A role a manifest removes drops off
# the key (CASCADE): a key never blocks a sync, and never gains a role.
api_key_roles = Table(
    "api_key_roles",
    db.metadata,
    Column("api_key_id", ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# The teams an organization's key is in: it acts with their roles too, as a member would.
api_key_teams = Table(
    "api_key_teams",
    db.metadata,
    Column("api_key_id", ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ApiKey(UUIDPrimaryKey, db.Model):
    """A person's key (user_id) or an organization's (organization_id), never both."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (organization_id IS NULL)", name="one_owner"),
        Index("ix_api_keys_user_id", "user_id"),
        Index("ix_api_keys_organization_id", "organization_id"),
        Index("ix_api_keys_created_by_id", "created_by_id"),
    )

    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, e.g. ask_live_Ab12Cd34, so a person recognises it.
    prefix: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # A person's key: the scopes its tokens may carry (a subset of what the person may grant).
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    organization: Mapped[Organization | None] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=api_key_roles)
    teams: Mapped[list[Team]] = relationship(secondary=api_key_teams)

    @property
    def is_org_key(self) -> bool:
        return self.organization_id is not None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @classmethod
    def find_by_secret(cls, raw: str) -> ApiKey | None:
        return db.session.scalar(select(cls).where(cls.secret_hash == sha256_hex(raw)))

    @classmethod
    def of_user(cls, user_id: uuid.UUID) -> list[ApiKey]:
        stmt = select(cls).where(cls.user_id == user_id).order_by(cls.created_at.desc())
        return list(db.session.scalars(stmt))

    @classmethod
    def of_organization(cls, organization_id: uuid.UUID) -> list[ApiKey]:
        stmt = select(cls).where(cls.organization_id == organization_id)
        return list(db.session.scalars(stmt.order_by(cls.created_at.desc())))

    @classmethod
    def grants_of(cls, key_id: uuid.UUID) -> list[Row]:
        """(team, service, name, resource, action) rows: the key's own roles and its teams'
        with their permissions, in one statement."""
        columns = (Role.service, Role.name, Permission.resource, Permission.action)
        own = (
            select(null().label("team"), *columns)
            .select_from(api_key_roles)
            .join(Role, Role.id == api_key_roles.c.role_id)
            .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
            .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
            .where(api_key_roles.c.api_key_id == key_id)
        )
        via_teams = (
            select(Team.slug, *columns)
            .select_from(api_key_teams)
            .join(Team, Team.id == api_key_teams.c.team_id)
            .outerjoin(team_roles, team_roles.c.team_id == Team.id)
            .outerjoin(Role, Role.id == team_roles.c.role_id)
            .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
            .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
            .where(api_key_teams.c.api_key_id == key_id)
        )
        return list(db.session.execute(union_all(own, via_teams)))
