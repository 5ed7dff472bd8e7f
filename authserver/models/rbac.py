"""Service-declared access control: services, their permissions, roles and role grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.extensions import db
from authserver.models.base import Timestamps, UTCDateTime, UUIDPrimaryKey

role_permissions = Table(
    "role_permissions",
    db.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "permission_id",
        ForeignKey("permissions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Service(Timestamps, db.Model):
    """A resource server that declares its permissions and roles in a manifest.

    The row also serializes manifest syncs: a sync locks it first (DESIGN: two instances
    pushing at once must leave no duplicates).
    """

    __tablename__ = "services"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def find(cls, name: str, *, for_update: bool = False) -> Service | None:
        stmt = select(cls).where(cls.name == name)
        if for_update:
            stmt = stmt.with_for_update()
        return db.session.scalar(stmt)


class Permission(UUIDPrimaryKey, db.Model):
    """One capability of a service: (service, resource, action), e.g. billing:invoice:read."""

    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("service", "resource", "action"),)

    service: Mapped[str] = mapped_column(ForeignKey("services.name", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)

    @property
    def qualified_name(self) -> str:
        return f"{self.service}:{self.resource}:{self.action}"


class Role(UUIDPrimaryKey, Timestamps, db.Model):
    """A named bundle of a service's permissions, assigned to organization members."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("service", "name"),)

    service: Mapped[str] = mapped_column(ForeignKey("services.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)

    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions)

    @property
    def qualified_name(self) -> str:
        return f"{self.service}:{self.name}"

    @classmethod
    def find(cls, service: str, name: str) -> Role | None:
        return db.session.scalar(select(cls).where(cls.service == service, cls.name == name))
