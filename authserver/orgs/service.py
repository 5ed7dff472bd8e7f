"""Organizations, members and their roles. Callers get plain exceptions; the API maps them
to problems. Access is decided by the `auth` service's roles and permissions."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from authserver.extensions import db
from authserver.models import (
    AuditEvent,
    Organization,
    OrganizationMember,
    Permission,
    Role,
    User,
)
from authserver.models.orgs import member_roles
from authserver.models.rbac import role_permissions
from authserver.numbers import ascii_uuid
from authserver.services.auth_manifest import AUTH_SERVICE

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")
OWNER = "owner"


class OrgError(Exception):
    """status: the HTTP status the API answers; slug: the problem type."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(OrgError):
    status, slug = 404, "not-found"


class Forbidden(OrgError):
    status, slug = 403, "forbidden"


class Conflict(OrgError):
    status, slug = 409, "conflict"


class Invalid(OrgError):
    status, slug = 422, "invalid"


@dataclass(frozen=True)
class Caller:
    """A person acting on an organization, with the auth permissions their roles grant."""

    user: User
    organization: Organization
    member: OrganizationMember
    permissions: frozenset[str]

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"Your roles in this organization do not allow {permission}.")


def _auth_role(name: str) -> Role:
    role = Role.find(AUTH_SERVICE, name)
    if role is None:
        raise RuntimeError("the auth manifest is not synced (run: authserver init)")
    return role


def caller(user: User, organization_id: str) -> Caller:
    """The person's standing in the org. A non-member sees the same 404 as a missing org,
    so nothing leaks across organizations."""
    try:
        key = ascii_uuid(organization_id)
    except ValueError:
        raise NotFound("No such organization.") from None
    member = db.session.scalar(
        select(OrganizationMember)
        .where(OrganizationMember.organization_id == key, OrganizationMember.user_id == user.id)
        .options(selectinload(OrganizationMember.organization))
    )
    if member is None:
        raise NotFound("No such organization.")
    granted = db.session.scalars(
        select(Permission.resource + ":" + Permission.action)
        .join(role_permissions, role_permissions.c.permission_id == Permission.id)
        .join(member_roles, member_roles.c.role_id == role_permissions.c.role_id)
        .where(member_roles.c.member_id == member.id, Permission.service == AUTH_SERVICE)
    )
    return Caller(user, member.organization, member, frozenset(granted))


def create_organization(user: User, name: str, slug: str) -> Organization:
    name = _checked_name(name)
    if not SLUG.match(slug):
        raise Invalid(
            "The slug is invalid.",
            field="slug",
            rule="3 to 100 of a-z 0-9 and -, not starting or ending with -",
        )
    if Organization.find_by_slug(slug) is not None:
        raise Conflict(f"The slug {slug} is taken.", field="slug")
    organization = Organization(name=name, slug=slug)
    db.session.add(organization)
    db.session.flush()
    db.session.add(
        OrganizationMember(
            organization_id=organization.id, user_id=user.id, roles=[_auth_role(OWNER)]
        )
    )
    db.session.flush()
    return organization


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise Invalid("The name must be 1 to 100 characters.", field="name")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise Invalid("The name must not contain control characters.", field="name")
    return name.strip()


def rename(by: Caller, name: str) -> None:
    by.require("org:manage")
    by.organization.name = _checked_name(name)
    db.session.flush()


def delete_organization(by: Caller) -> None:
    by.require("org:manage")
    db.session.delete(by.organization)
    db.session.flush()


def my_organizations(user: User) -> list[OrganizationMember]:
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .where(OrganizationMember.user_id == user.id)
            .options(
                selectinload(OrganizationMember.organization),
                selectinload(OrganizationMember.roles),
            )
            .order_by(OrganizationMember.created_at)
        )
    )


def members(by: Caller) -> list[OrganizationMember]:
    by.require("member:read")
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .where(OrganizationMember.organization_id == by.organization.id)
            .options(selectinload(OrganizationMember.user), selectinload(OrganizationMember.roles))
            .order_by(OrganizationMember.created_at)
        )
    )


def resolve_roles(names: object) -> list[Role]:
    """["service:role", ...] → roles that services declared; anything else is 422."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid("roles must be a list of 'service:role' strings.", field="roles")
    found = []
    for index, qualified in enumerate(dict.fromkeys(names)):
        service, _, name = qualified.partition(":")
        role = Role.find(service, name) if name else None
        if role is None:
            raise Invalid(
                f"{qualified} is not a role any service declared.", field=f"roles/{index}"
            )
        found.append(role)
    return found


def add_member(by: Caller, email: object, role_names: object) -> OrganizationMember:
    by.require("member:manage")
    user = User.find_by_email(email) if isinstance(email, str) else None
    if user is None:
        raise Invalid("No person has that email address; invite them instead.", field="email")
    roles = resolve_roles(role_names)
    check_may_grant(by, roles)
    existing = member_of(by.organization, user.id)
    if existing is not None:
        raise Conflict("That person is already a member.", member_id=str(existing.id))
    member = OrganizationMember(organization_id=by.organization.id, user_id=user.id, roles=roles)
    db.session.add(member)
    db.session.flush()
    return member


def change_roles(by: Caller, member_id: str, role_names: object) -> OrganizationMember:
    by.require("member:manage")
    member = _find_member(by, member_id)
    roles = resolve_roles(role_names)
    check_may_grant(by, roles)
    is_owner = any(r.service == AUTH_SERVICE and r.name == OWNER for r in member.roles)
    keeps_owner = any(r.service == AUTH_SERVICE and r.name == OWNER for r in roles)
    if is_owner and not keeps_owner:
        _check_not_last_owner(by.organization)
        if OWNER not in _caller_roles(by):
            raise Forbidden("Only an owner can demote an owner.")
    member.roles = roles
    db.session.flush()
    return member


def remove_member(by: Caller, member_id: str) -> None:
    member = _find_member(by, member_id)
    if member.id != by.member.id:  # leaving needs no permission; removing others does
        by.require("member:manage")
    if any(r.service == AUTH_SERVICE and r.name == OWNER for r in member.roles):
        _check_not_last_owner(by.organization)
        if member.id != by.member.id and OWNER not in _caller_roles(by):
            raise Forbidden("Only an owner can remove an owner.")
    db.session.delete(member)
    db.session.flush()


def _caller_roles(by: Caller) -> set[str]:
    return {r.name for r in by.member.roles if r.service == AUTH_SERVICE}


def check_may_grant(by: Caller, roles: list[Role]) -> None:
    if any(r.service == AUTH_SERVICE and r.name == OWNER for r in roles) and (
        OWNER not in _caller_roles(by)
    ):
        raise Forbidden("Only an owner can make an owner.")


def _check_not_last_owner(organization: Organization) -> None:
    owners = db.session.scalar(
        select(func.count())
        .select_from(member_roles)
        .join(OrganizationMember, OrganizationMember.id == member_roles.c.member_id)
        .where(
            OrganizationMember.organization_id == organization.id,
            member_roles.c.role_id == _auth_role(OWNER).id,
        )
    )
    if owners <= 1:
        raise Conflict("An organization keeps at least one owner.")


def member_of(organization: Organization, user_id: uuid.UUID) -> OrganizationMember | None:
    return db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == organization.id,
            OrganizationMember.user_id == user_id,
        )
    )


def _find_member(by: Caller, member_id: str) -> OrganizationMember:
    try:
        key = ascii_uuid(member_id)
    except ValueError:
        raise NotFound("No such member.") from None
    member = db.session.get(OrganizationMember, key)
    if member is None or member.organization_id != by.organization.id:
        raise NotFound("No such member.")
    return member


def audit_events(
    by: Caller,
    *,
    type_prefix: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AuditEvent]:
    """The organization's own audit events, newest first: owners and admins only."""
    by.require("audit:read")
    return AuditEvent.page(
        organization_id=by.organization.id, type_prefix=type_prefix, before=before, limit=limit
    )
