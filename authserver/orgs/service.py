"""Organizations, members and their roles. Callers get plain exceptions; the API maps them
to problems. Access is decided by the `auth` service's roles and permissions."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import LazyString, force_locale, lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from authserver.extensions import db
from authserver.models import (
    AuditEvent,
    Organization,
    OrganizationMember,
    Role,
    User,
)
from authserver.models.orgs import member_roles
from authserver.numbers import ascii_uuid
from authserver.services.auth_manifest import AUTH_SERVICE

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")
OWNER = "owner"


# The API's problem details, the CLI and the log speak English whatever a request's
# Accept-Language says (pages/language.py DEFAULT_LOCALE).
ENGLISH = "en"


class OrgError(Exception):
    """status: the HTTP status the API answers; slug: the problem type. The message is
    marked with lazy_gettext: `detail` is it in English (the API's problem detail, the CLI,
    the log), `localized()` in the language of the page that shows it."""

    status = 400
    slug = "bad-request"

    def __init__(self, message: str | LazyString, **extensions: object) -> None:
        with force_locale(ENGLISH):
            detail = str(message)
        super().__init__(detail)
        self.message = message
        self.detail = detail
        self.extensions = extensions

    def localized(self) -> str:
        """The message in the current request's language, as a plain str (a LazyString
        would reach Jinja as markup, unescaped)."""
        return str(self.message)


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
            raise Forbidden(
                lazy_gettext(
                    "Your roles in this organization do not allow %(permission)s.",
                    permission=permission,
                )
            )


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
        raise NotFound(lazy_gettext("No such organization.")) from None
    # One statement, so one snapshot: the membership, its roles and their permissions as
    # they stood together (a concurrent deletion of the org leaves none of them).
    member = db.session.scalar(
        select(OrganizationMember)
        .where(OrganizationMember.organization_id == key, OrganizationMember.user_id == user.id)
        .options(
            joinedload(OrganizationMember.organization),
            joinedload(OrganizationMember.roles).joinedload(Role.permissions),
        )
    )
    if member is None:
        raise NotFound(lazy_gettext("No such organization."))
    granted = {
        f"{permission.resource}:{permission.action}"
        for role in member.roles
        for permission in role.permissions
        if permission.service == AUTH_SERVICE
    }
    return Caller(user, member.organization, member, frozenset(granted))


def create_organization(user: User, name: str, slug: str) -> Organization:
    name = checked_name(name)
    if not SLUG.match(slug):
        raise Invalid(
            lazy_gettext("The slug is invalid."),
            field="slug",
            rule="3 to 100 of a-z 0-9 and -, not starting or ending with -",
        )
    if Organization.find_by_slug(slug) is not None:
        raise Conflict(lazy_gettext("The slug %(slug)s is taken.", slug=slug), field="slug")
    organization = Organization(name=name, slug=slug)
    try:
        with db.session.begin_nested():
            db.session.add(organization)
    except IntegrityError:
        # Two creations of one slug at once: the unique constraint decides, the loser is 409.
        raise Conflict(
            lazy_gettext("The slug %(slug)s is taken.", slug=slug), field="slug"
        ) from None
    db.session.add(
        OrganizationMember(
            organization_id=organization.id, user_id=user.id, roles=[_auth_role(OWNER)]
        )
    )
    db.session.flush()
    return organization


def checked_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise Invalid(lazy_gettext("The name must be 1 to 100 characters."), field="name")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise Invalid(lazy_gettext("The name must not contain control characters."), field="name")
    return name.strip()


def lock_organization(organization_id: uuid.UUID) -> None:
    """Lock the organization's row (PostgreSQL) for the rest of the transaction, so that
    changes to it and its members run one at a time: a rule counted before a write (the last
    owner) then holds when the write lands. The lock is taken before any row of the org
    (member, invitation), always in that order. FOR NO KEY UPDATE leaves inserts that only
    reference the org (audit events) unblocked. A gone org is 404."""
    if not Organization.lock(organization_id):
        raise NotFound(lazy_gettext("No such organization."))


def rename(by: Caller, name: str) -> None:
    by.require("org:manage")
    lock_organization(by.organization.id)
    by.organization.name = checked_name(name)
    db.session.flush()


def delete_organization(by: Caller) -> None:
    by.require("org:manage")
    lock_organization(by.organization.id)
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
                selectinload(OrganizationMember.teams),
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
            .options(
                selectinload(OrganizationMember.user),
                selectinload(OrganizationMember.roles),
                selectinload(OrganizationMember.teams),
            )
            .order_by(OrganizationMember.created_at)
        )
    )


def resolve_roles(names: object) -> list[Role]:
    """["service:role", ...] → roles that services declared; anything else is 422."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid(
            lazy_gettext("roles must be a list of 'service:role' strings."), field="roles"
        )
    found = []
    for index, qualified in enumerate(dict.fromkeys(names)):
        service, _, name = qualified.partition(":")
        role = Role.find(service, name) if name else None
        if role is None:
            raise Invalid(
                lazy_gettext("%(role)s is not a role any service declared.", role=qualified),
                field=f"roles/{index}",
            )
        found.append(role)
    return found


def add_member(organization: Organization, user: User, roles: list[Role]) -> OrganizationMember:
    """An operator's addition (`authserver orgs add-member`). People join by accepting an
    invitation; nobody else may make them a member without their agreement."""
    if not user.is_active:
        raise Invalid(lazy_gettext("That account is disabled."), field="email")
    lock_organization(organization.id)
    return insert_member(organization.id, user.id, roles)


def insert_member(
    organization_id: uuid.UUID, user_id: uuid.UUID, roles: list[Role]
) -> OrganizationMember:
    """The membership row; a person who is already a member is 409, also when a concurrent
    request made them one first (the unique constraint decides)."""
    member = OrganizationMember(organization_id=organization_id, user_id=user_id, roles=roles)
    try:
        with db.session.begin_nested():
            db.session.add(member)
    except IntegrityError:
        raise Conflict(lazy_gettext("That person is already a member.")) from None
    return member


def change_roles(by: Caller, member_id: str, role_names: object) -> OrganizationMember:
    by.require("member:manage")
    lock_organization(by.organization.id)
    member = find_member(by, member_id)
    roles = resolve_roles(role_names)
    check_may_grant(by, roles)
    is_owner = any(r.service == AUTH_SERVICE and r.name == OWNER for r in member.roles)
    keeps_owner = any(r.service == AUTH_SERVICE and r.name == OWNER for r in roles)
    if is_owner and not keeps_owner:
        _check_not_last_owner(by.organization)
        if OWNER not in _caller_roles(by):
            raise Forbidden(lazy_gettext("Only an owner can demote an owner."))
    member.roles = roles
    db.session.flush()
    return member


def remove_member(by: Caller, member_id: str) -> None:
    lock_organization(by.organization.id)
    member = find_member(by, member_id)
    if member.id != by.member.id:  # leaving needs no permission; removing others does
        by.require("member:manage")
    if any(r.service == AUTH_SERVICE and r.name == OWNER for r in member.roles):
        _check_not_last_owner(by.organization)
        if member.id != by.member.id and OWNER not in _caller_roles(by):
            raise Forbidden(lazy_gettext("Only an owner can remove an owner."))
    db.session.delete(member)
    db.session.flush()


def _caller_roles(by: Caller) -> set[str]:
    return {r.name for r in by.member.roles if r.service == AUTH_SERVICE}


def check_may_grant(by: Caller, roles: list[Role]) -> None:
    if any(r.service == AUTH_SERVICE and r.name == OWNER for r in roles) and (
        OWNER not in _caller_roles(by)
    ):
        raise Forbidden(lazy_gettext("Only an owner can make an owner."))


def _check_not_last_owner(organization: Organization) -> None:
    """Counted under lock_organization: two owners demoting each other, or both leaving, at
    once must not leave the organization without one."""
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
        raise Conflict(lazy_gettext("An organization keeps at least one owner."))


def member_of(organization: Organization, user_id: uuid.UUID) -> OrganizationMember | None:
    return db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == organization.id,
            OrganizationMember.user_id == user_id,
        )
    )


def find_member(by: Caller, member_id: str) -> OrganizationMember:
    try:
        key = ascii_uuid(member_id)
    except ValueError:
        raise NotFound(lazy_gettext("No such member.")) from None
    # Read again under the lock: a concurrent request may have changed or removed it.
    member = db.session.scalar(
        select(OrganizationMember)
        .where(OrganizationMember.id == key)
        .options(selectinload(OrganizationMember.roles))
        .execution_options(populate_existing=True)
    )
    if member is None or member.organization_id != by.organization.id:
        raise NotFound(lazy_gettext("No such member."))
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
