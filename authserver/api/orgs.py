"""/api/v1/orgs: organizations and members, called with a person's token (scope orgs)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request

from authserver import audit
from authserver.api.auth import require_bearer
from authserver.errors import Problem
from authserver.extensions import csrf, db
from authserver.models import Organization, OrganizationMember, User
from authserver.orgs import service as orgs
from authserver.orgs.service import OrgError

orgs_api = Blueprint("orgs_api", __name__, url_prefix="/api/v1/orgs")
csrf.exempt(orgs_api)  # Bearer tokens, not cookies: there is no cross-site request to forge


def person() -> User:
    token = require_bearer("orgs")
    try:
        user = db.session.get(User, uuid.UUID(str(token.claims.get("sub"))))
    except ValueError:
        user = None
    if user is None or not user.is_active:
        raise Problem(403, "person-required", "This API needs a person's access token.")
    return user


def problems(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map the rules' exceptions to RFC 9457 problems, once for every route."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except OrgError as error:
            db.session.rollback()
            raise Problem(error.status, error.slug, error.detail, **error.extensions) from None

    return wrapper


def body() -> dict[str, Any]:
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise Problem(415, "not-json", "Send a JSON object.")
    return document


def org_view(organization: Organization) -> dict[str, Any]:
    return {
        "id": str(organization.id),
        "name": organization.name,
        "slug": organization.slug,
        "created_at": organization.created_at.isoformat(),
    }


def member_view(member: OrganizationMember) -> dict[str, Any]:
    return {
        "id": str(member.id),
        "user_id": str(member.user_id),
        "email": member.user.email,
        "name": member.user.display_name,
        "roles": sorted(role.qualified_name for role in member.roles),
    }


def changed(event: str, by: User, organization_id: uuid.UUID, **details: Any) -> None:
    audit.record(event, actor_user_id=by.id, organization_id=organization_id, **details)
    db.session.commit()


@orgs_api.post("")
@problems
def create_org() -> tuple[Response, int]:
    user, data = person(), body()
    organization = orgs.create_organization(user, data.get("name"), str(data.get("slug", "")))
    changed("org.created", user, organization.id, slug=organization.slug)
    return jsonify(org_view(organization)), 201


@orgs_api.get("")
@problems
def list_my_orgs() -> Response:
    memberships = orgs.my_organizations(person())
    return jsonify(
        [
            {**org_view(m.organization), "roles": sorted(r.qualified_name for r in m.roles)}
            for m in memberships
        ]
    )


@orgs_api.get("/<org_id>")
@problems
def get_org(org_id: str) -> Response:
    return jsonify(org_view(orgs.caller(person(), org_id).organization))


@orgs_api.patch("/<org_id>")
@problems
def rename_org(org_id: str) -> Response:
    user = person()
    by = orgs.caller(user, org_id)
    orgs.rename(by, body().get("name"))
    changed("org.renamed", user, by.organization.id, name=by.organization.name)
    return jsonify(org_view(by.organization))


@orgs_api.delete("/<org_id>")
@problems
def delete_org(org_id: str) -> tuple[str, int]:
    user = person()
    by = orgs.caller(user, org_id)
    organization_id = by.organization.id
    orgs.delete_organization(by)
    changed("org.deleted", user, organization_id)
    return "", 204


@orgs_api.get("/<org_id>/members")
@problems
def list_members(org_id: str) -> Response:
    by = orgs.caller(person(), org_id)
    return jsonify([member_view(m) for m in orgs.members(by)])


@orgs_api.post("/<org_id>/members")
@problems
def add_member(org_id: str) -> tuple[Response, int]:
    user, data = person(), body()
    by = orgs.caller(user, org_id)
    member = orgs.add_member(by, data.get("email"), data.get("roles", []))
    changed(
        "member.added",
        user,
        by.organization.id,
        member_id=str(member.id),
        roles=[r.qualified_name for r in member.roles],
    )
    return jsonify(member_view(member)), 201


@orgs_api.put("/<org_id>/members/<member_id>/roles")
@problems
def change_member_roles(org_id: str, member_id: str) -> Response:
    user, data = person(), body()
    by = orgs.caller(user, org_id)
    member = orgs.change_roles(by, member_id, data.get("roles"))
    changed(
        "member.roles_changed",
        user,
        by.organization.id,
        member_id=member_id,
        roles=[r.qualified_name for r in member.roles],
    )
    return jsonify(member_view(member))


@orgs_api.delete("/<org_id>/members/<member_id>")
@problems
def remove_member(org_id: str, member_id: str) -> tuple[str, int]:
    user = person()
    by = orgs.caller(user, org_id)
    orgs.remove_member(by, member_id)
    changed("member.removed", user, by.organization.id, member_id=member_id)
    return "", 204
