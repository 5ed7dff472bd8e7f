"""Teams inside an organization: their members (org members) and the service roles they hold."""

from __future__ import annotations

import uuid

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.extensions import db
from authserver.models.base import Timestamps, UUIDPrimaryKey
from authserver.models.orgs import OrganizationMember
from authserver.models.rbac import Role

# A team's members are memberships, so leaving the organization leaves its teams too.
team_members = Table(
    "team_members",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "member_id",
        ForeignKey("organization_members.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

# The roles a team holds. Deleting the team removes its grants with it (CASCADE); a role
# still held cannot be deleted (RESTRICT): a manifest sync says so (409) like for members.
team_roles = Table(
    "team_roles",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="RESTRICT"), primary_key=True, index=True),
)

# The teams an invitation offers to join on acceptance. A deleted team drops off the offer.
invitation_teams = Table(
    "invitation_teams",
    db.metadata,
    Column("invitation_id", ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(UUIDPrimaryKey, Timestamps, db.Model):
    """A named group of an organization's members; its roles are inherited by them."""

    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        UniqueConstraint("organization_id", "name"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    members: Mapped[list[OrganizationMember]] = relationship(secondary=team_members)
    roles: Mapped[list[Role]] = relationship(secondary=team_roles)
