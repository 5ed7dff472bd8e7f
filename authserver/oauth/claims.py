"""Organization claims: `orgs` for the `orgs` scope, and the org-scoped claims of a token
asked for with `organization=`. Each is read in one query.

Size is bounded: a token lists at most MAX_ORGS organizations (the oldest memberships
first) and says `orgs_truncated: true` when there are more; a client that needs one of
the others asks for an org-scoped token with `organization=`.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any, NotRequired, TypedDict

from sqlalchemy import Select, bindparam, select

from authserver.extensions import db
from authserver.models import (
    Organization,
    OrganizationFactorPolicy,
    OrganizationMember,
    Permission,
    Role,
)
from authserver.models.orgs import member_roles
from authserver.models.rbac import role_permissions
from authserver.numbers import ascii_uuid

MAX_ORGS = 50
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class OrgClaim(TypedDict):
    id: str
    slug: str
    roles: list[str]
    # The organization requires a second factor that this sign-in did not use: its roles
    # are withheld, as an org-scoped token for it would be refused.
    second_factor_required: NotRequired[bool]


def memberships(
    user_id: uuid.UUID, service: str | None = None, *, multi_factor: bool
) -> tuple[list[OrgClaim], bool]:
    """Every membership with its roles (only `service`'s when given), oldest first, at most
    MAX_ORGS; True if cut. Without a second factor (`multi_factor` False), an organization
    whose policy requires one lists no roles."""
    rows = db.session.execute(_memberships_query(), {"user_id": user_id})
    orgs: dict[uuid.UUID, OrgClaim] = {}
    for org_id, slug, requires_factor, role_service, role in rows:
        claim = orgs.setdefault(org_id, {"id": str(org_id), "slug": slug, "roles": []})
        if requires_factor and not multi_factor:
            claim["second_factor_required"] = True
            continue
        if role is not None and (service is None or role_service == service):
            claim["roles"].append(f"{role_service}:{role}")
    listed = list(orgs.values())
    return listed[:MAX_ORGS], len(listed) > MAX_ORGS


def orgs_claims(
    user_id: uuid.UUID, service: str | None = None, *, multi_factor: bool
) -> dict[str, Any]:
    """The `orgs` claim (and `orgs_truncated` when cut), for tokens and /userinfo alike."""
    orgs, truncated = memberships(user_id, service, multi_factor=multi_factor)
    return {"orgs": orgs, "orgs_truncated": True} if truncated else {"orgs": orgs}


def find_organization(reference: str) -> Organization | None:
    """An organization by id or slug, as the `organization` parameter names it."""
    try:
        return db.session.get(Organization, ascii_uuid(reference))
    except ValueError:
        pass
    if not SLUG_PATTERN.match(reference):
        return None
    return Organization.find_by_slug(reference)


def is_member(user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    return (
        db.session.scalar(
            select(OrganizationMember.id).where(
                OrganizationMember.user_id == user_id,
                OrganizationMember.organization_id == organization_id,
            )
        )
        is not None
    )


def organization_scoped(
    user_id: uuid.UUID, organization_id: uuid.UUID, service: str | None = None
) -> dict[str, Any] | None:
    """org_id, org_slug, roles and permissions for one membership; None if not a member.
    With `service`, roles and permissions are only that service's (RFC 8707 resource)."""
    rows = db.session.execute(
        _membership_query(), {"user_id": user_id, "organization_id": organization_id}
    ).all()
    if not rows:
        return None
    held = [r for r in rows if r.name is not None and (service is None or r.service == service)]
    roles = sorted({f"{r.service}:{r.name}" for r in held})
    permissions = sorted({f"{r.service}:{r.resource}:{r.action}" for r in held if r.resource})
    return {
        "org_id": str(organization_id),
        "org_slug": rows[0].slug,
        "roles": roles,
        "permissions": permissions,
    }


# Both queries run on every token a person gets, so they are built once with bind
# parameters: building a four-way join costs SQLAlchemy about half of what running it does.


@functools.cache
def _memberships_query() -> Select[tuple[uuid.UUID, str, bool | None, str | None, str | None]]:
    return (
        select(
            Organization.id,
            Organization.slug,
            OrganizationFactorPolicy.require_second_factor,
            Role.service,
            Role.name,
        )
        .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
        .outerjoin(
            OrganizationFactorPolicy,
            OrganizationFactorPolicy.organization_id == Organization.id,
        )
        .outerjoin(member_roles, member_roles.c.member_id == OrganizationMember.id)
        .outerjoin(Role, Role.id == member_roles.c.role_id)
        .where(OrganizationMember.user_id == bindparam("user_id"))
        .order_by(OrganizationMember.created_at, Organization.slug, Role.service, Role.name)
    )


@functools.cache
def _membership_query() -> Select[
    tuple[str, str | None, str | None, str | None, str | None, uuid.UUID]
]:
    return (
        select(
            Organization.slug,
            Role.service,
            Role.name,
            Permission.resource,
            Permission.action,
            OrganizationMember.id,
        )
        .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
        .outerjoin(member_roles, member_roles.c.member_id == OrganizationMember.id)
        .outerjoin(Role, Role.id == member_roles.c.role_id)
        .outerjoin(role_permissions, role_permissions.c.role_id == Role.id)
        .outerjoin(Permission, Permission.id == role_permissions.c.permission_id)
        .where(
            Organization.id == bindparam("organization_id"),
            OrganizationMember.user_id == bindparam("user_id"),
        )
    )
