"""/api/v1/orgs: organizations and members, called with a person's token for this API
(scope orgs to read, orgs:write to change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from authserver import audit, ratelimits
from authserver.api import models
from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.auth import orgs_scope_for, require_bearer
from authserver.api.operations import route
from authserver.config import current_settings
from authserver.errors import Problem
from authserver.extensions import csrf, db
from authserver.mfa.policy import allows_org_token
from authserver.models import Invitation, Organization, OrganizationMember, User
from authserver.numbers import ascii_uuid, parse_ascii_int
from authserver.oauth.tokens import PERSON
from authserver.orgs import invitations
from authserver.orgs import service as orgs
from authserver.orgs.service import OrgError

orgs_api = Blueprint("orgs_api", __name__, url_prefix="/api/v1/orgs")
csrf.exempt(orgs_api)  # Bearer tokens, not cookies: there is no cross-site request to forge


def person() -> User:
    token = require_bearer(orgs_scope_for(request.method), subject=PERSON)
    user_id = token.person_id()
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise Problem(403, "person-required", "This API needs a person's access token.")
    # How the token's sign-in was made (RFC 8176), for organizations' second-factor policy.
    g.api_auth_methods = tuple(token.family.auth_methods) if token.family else ()
    return user


def caller(user: User, org_id: str) -> orgs.Caller:
    """The person acting in the organization, through a token whose sign-in meets the
    organization's second-factor policy: the policy guards the org's data and settings as
    it guards its org-scoped tokens (security review: a password-only token must not read
    members, invite admins or switch the policy off)."""
    by = orgs.caller(user, org_id)
    if not allows_org_token(by.organization.id, g.get("api_auth_methods", ())):
        raise Problem(
            403,
            "second-factor-required",
            "This organization requires a second factor: sign in again with one.",
        )
    return by


def problems(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map the rules' exceptions to RFC 9457 problems, once for every route. Nothing a
    refused request did is kept, unless the view committed it on purpose."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except OrgError as error:
            db.session.rollback()
            raise Problem(error.status, error.slug, error.detail, **error.extensions) from None

    return wrapper


def org_view(organization: Organization) -> dict[str, Any]:
    return models.Organization.model_validate(organization, from_attributes=True).model_dump(
        mode="json"
    )


def member_view(member: OrganizationMember) -> dict[str, Any]:
    return models.Member(
        id=member.id,
        user_id=member.user_id,
        email=member.user.email,
        name=member.user.display_name,
        roles=sorted(role.qualified_name for role in member.roles),
        teams=sorted(team.slug for team in member.teams),
    ).model_dump(mode="json")


def changed(event: str, by: User, organization_id: uuid.UUID | None, **details: Any) -> None:
    audit.record(event, actor_user_id=by.id, organization_id=organization_id, **details)
    # The answer describes what this request wrote: keep the objects as committed rather
    # than reload them, which fails when a concurrent request deletes them in between.
    session = db.session()
    session.expire_on_commit, expiring = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring


@route(
    orgs_api,
    "POST",
    "",
    "Create an organization",
    scope=WRITE,
    body=models.OrganizationCreate,
    returns=models.Organization,
    status=201,
    errors={409: "Slug taken"},
)
@problems
def create_org() -> tuple[Response, int]:
    user, data = person(), models.parse(models.OrganizationCreate)
    organization = orgs.create_organization(user, data.name, data.slug)
    changed("org.created", user, organization.id, slug=organization.slug)
    return jsonify(org_view(organization)), 201


@route(
    orgs_api, "GET", "", "My organizations", scope=READ, returns=models.MyOrganization, many=True
)
@problems
def list_my_orgs() -> Response:
    memberships = orgs.my_organizations(person())
    return jsonify(
        [
            models.MyOrganization(
                id=m.organization.id,
                name=m.organization.name,
                slug=m.organization.slug,
                created_at=m.organization.created_at,
                roles=sorted(r.qualified_name for r in m.roles),
                teams=sorted(t.slug for t in m.teams),
            ).model_dump(mode="json")
            for m in memberships
        ]
    )


@route(
    orgs_api, "GET", "/<org_id>", "Read an organization", scope=READ, returns=models.Organization
)
@problems
def get_org(org_id: str) -> Response:
    return jsonify(org_view(caller(person(), org_id).organization))


@route(
    orgs_api,
    "PATCH",
    "/<org_id>",
    "Rename",
    scope=WRITE,
    body=models.OrganizationRename,
    returns=models.Organization,
    errors={422: "Invalid name"},
)
@problems
def rename_org(org_id: str) -> Response:
    user = person()
    by = caller(user, org_id)
    orgs.rename(by, models.parse(models.OrganizationRename).name)
    changed("org.renamed", user, by.organization.id, name=by.organization.name)
    return jsonify(org_view(by.organization))


@route(orgs_api, "DELETE", "/<org_id>", "Delete", scope=WRITE, status=204)
@problems
def delete_org(org_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    organization_id = by.organization.id
    orgs.delete_organization(by)
    changed("org.deleted", user, organization_id)
    return "", 204


# No POST: a person joins by accepting an invitation (or by an operator, `authserver orgs
# add-member`), never without their agreement.
@route(
    orgs_api, "GET", "/<org_id>/members", "Members", scope=READ, returns=models.Member, many=True
)
@problems
def list_members(org_id: str) -> Response:
    by = caller(person(), org_id)
    return jsonify([member_view(m) for m in orgs.members(by)])


@route(
    orgs_api,
    "PUT",
    "/<org_id>/members/<member_id>/roles",
    "Replace a member's roles",
    scope=WRITE,
    body=models.RolesReplace,
    returns=models.Member,
    errors={409: "Last owner", 422: "Undeclared role"},
)
@problems
def change_member_roles(org_id: str, member_id: str) -> Response:
    user = person()
    by = caller(user, org_id)
    member = orgs.change_roles(by, member_id, models.parse(models.RolesReplace).roles)
    changed(
        "member.roles_changed",
        user,
        by.organization.id,
        member_id=member_id,
        roles=[r.qualified_name for r in member.roles],
    )
    return jsonify(member_view(member))


@route(
    orgs_api,
    "DELETE",
    "/<org_id>/members/<member_id>",
    "Remove a member or leave",
    scope=WRITE,
    status=204,
    errors={409: "Last owner"},
)
@problems
def remove_member(org_id: str, member_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    orgs.remove_member(by, member_id)
    changed("member.removed", user, by.organization.id, member_id=member_id)
    return "", 204


def invitation_view(invitation: Invitation) -> dict[str, Any]:
    return models.Invitation(
        id=invitation.id,
        organization_id=invitation.organization_id,
        email=invitation.email,
        roles=sorted(role.qualified_name for role in invitation.roles),
        teams=sorted(team.id for team in invitation.teams),
        state=invitation.state,
        expires_at=invitation.expires_at,
    ).model_dump(mode="json")


INVITATION_LIMIT = "60 per hour"  # per inviting person, counted once they have authenticated


@route(
    orgs_api,
    "POST",
    "/<org_id>/invitations",
    "Invite",
    scope=WRITE,
    body=models.InvitationCreate,
    returns=models.Invitation,
    status=201,
    errors={409: "Pending invitation exists", 429: "Too many invitations; see Retry-After"},
)
@problems
def create_invitation(org_id: str) -> tuple[Response, int]:
    user = person()
    data = models.parse(models.InvitationCreate)
    ratelimits.spend(INVITATION_LIMIT, "invite", str(user.id))
    by = caller(user, org_id)
    invitation = invitations.create(
        by,
        data.email,
        data.roles,
        data.expires_in,
        current_settings().invitation_ttl,
        [str(team) for team in data.teams],
    )
    changed(
        "invitation.created",
        user,
        by.organization.id,
        invitation_id=str(invitation.id),
        roles=[r.qualified_name for r in invitation.roles],
    )
    # The link travels by mail only: using it proves the mailbox (it may mark the address
    # verified), so the inviter, who could be anyone, must never see it.
    return jsonify(invitation_view(invitation)), 201


@route(
    orgs_api,
    "GET",
    "/<org_id>/invitations",
    "Invitations",
    scope=READ,
    returns=models.Invitation,
    many=True,
)
@problems
def list_invitations(org_id: str) -> Response:
    by = caller(person(), org_id)
    return jsonify([invitation_view(i) for i in invitations.list_for_org(by)])


@route(
    orgs_api,
    "DELETE",
    "/<org_id>/invitations/<invitation_id>",
    "Revoke an invitation",
    scope=WRITE,
    status=204,
    errors={409: "Not pending"},
)
@problems
def revoke_invitation(org_id: str, invitation_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    invitations.revoke(by, invitation_id)
    changed("invitation.revoked", user, by.organization.id, invitation_id=invitation_id)
    return "", 204


@route(
    orgs_api,
    "POST",
    "/<org_id>/invitations/<invitation_id>/resend",
    "Mail the invitation again with a new link",
    scope=WRITE,
    returns=models.Invitation,
    errors={
        404: "No such invitation",
        409: "Not pending, or mailed too often",
        429: "Too many invitations; see Retry-After",
    },
)
@problems
def resend_invitation(org_id: str, invitation_id: str) -> Response:
    """Mail the invitee again with a new link; the old link stops working."""
    user = person()
    ratelimits.spend(INVITATION_LIMIT, "invite", str(user.id))  # shared with creating one
    by = caller(user, org_id)
    invitation = invitations.resend(by, invitation_id)
    changed("invitation.resent", user, by.organization.id, invitation_id=invitation_id)
    return jsonify(invitation_view(invitation))  # the new link goes by mail only


invitations_api = Blueprint("invitations_api", __name__, url_prefix="/api/v1/invitations")
csrf.exempt(invitations_api)


@route(
    invitations_api,
    "GET",
    "",
    "My pending invitations",
    scope=READ,
    returns=models.Invitation,
    many=True,
)
@problems
def my_invitations() -> Response:
    return jsonify([invitation_view(i) for i in invitations.mine(person())])


@route(
    invitations_api,
    "POST",
    "/<invitation_id>/accept",
    "Accept",
    scope=WRITE,
    returns=models.Invitation,
    errors={409: "Not pending or expired"},
)
@problems
def accept_invitation(invitation_id: str) -> Response:
    return _respond(invitation_id, accept=True)


@route(
    invitations_api,
    "POST",
    "/<invitation_id>/decline",
    "Decline",
    scope=WRITE,
    returns=models.Invitation,
    errors={409: "Not pending or expired"},
)
@problems
def decline_invitation(invitation_id: str) -> Response:
    return _respond(invitation_id, accept=False)


def _respond(invitation_id: str, *, accept: bool) -> Response:
    user = person()
    try:
        invitation = invitations.respond(user, invitation_id, accept=accept)
    except OrgError:
        db.session.commit()  # an expired invitation is marked so, even though we refuse
        raise
    changed(
        f"invitation.{invitation.state}",
        user,
        invitation.organization_id,
        invitation_id=invitation_id,
    )
    return jsonify(invitation_view(invitation))


AUDIT_PAGE_MAX = 200


@route(
    orgs_api,
    "GET",
    "/<org_id>/audit-events",
    "The organization's audit log, newest first (owners and admins)",
    scope=READ,
    returns=models.AuditPage,
    errors={400: "Bad limit or cursor, or a NUL character or lone surrogate in the request"},
    query=(
        {"name": "type", "in": "query", "schema": {"type": "string", "maxLength": 64}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": AUDIT_PAGE_MAX},
        },
        {"name": "before", "in": "query", "schema": {"type": "string"}},
    ),
)
@problems
def list_audit_events(org_id: str) -> Response:
    """The org's audit log for its owners and admins, newest first, a page at a time.
    IP addresses and user agents stay with the operators (`authserver audit tail`)."""
    by = caller(person(), org_id)
    limit = parse_ascii_int(request.args.get("limit", "50"), maximum=AUDIT_PAGE_MAX)
    if not limit:
        raise Problem(400, "invalid-limit", f"limit must be 1 to {AUDIT_PAGE_MAX}.")
    events = orgs.audit_events(
        by,
        type_prefix=request.args.get("type") or None,
        before=_cursor(request.args.get("before")),
        limit=limit,
    )
    full_page = len(events) == limit
    return jsonify(
        models.AuditPage(
            events=[models.AuditEvent.model_validate(e, from_attributes=True) for e in events],
            next=f"{events[-1].occurred_at.isoformat()}_{events[-1].id}" if full_page else None,
        ).model_dump(mode="json")
    )


def _cursor(value: str | None) -> tuple[datetime, uuid.UUID] | None:
    """`before` is the `next` of the previous page: `<occurred_at>_<id>`."""
    if not value:
        return None
    at, _, event_id = value.rpartition("_")
    try:
        key = datetime.fromisoformat(at), ascii_uuid(event_id)
    except ValueError:
        key = None
    if key is None or key[0].tzinfo is None:
        raise Problem(400, "invalid-cursor", "before must be the next value of a page.")
    return key
