"""/api/v1/orgs/{org_id}/second-factor-policy: an organization's rule, shown and changed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from authserver.api.orgs import body, caller, changed, person, problems
from authserver.errors import Problem
from authserver.extensions import csrf, db
from authserver.mfa import policy
from authserver.models import OrganizationFactorPolicy

mfa_policy_api = Blueprint("mfa_policy_api", __name__, url_prefix="/api/v1/orgs")
csrf.exempt(mfa_policy_api)  # Bearer tokens, not cookies


def policy_view(found: OrganizationFactorPolicy | None) -> dict[str, Any]:
    return {
        "require_second_factor": bool(found and found.require_second_factor),
        "updated_at": found.updated_at.isoformat() if found else None,
    }


@mfa_policy_api.get("/<org_id>/second-factor-policy")
@problems
def get_policy(org_id: str) -> Response:
    """Every member may read the rule that applies to them."""
    by = caller(person(), org_id)
    by.require("member:read")
    return jsonify(policy_view(db.session.get(OrganizationFactorPolicy, by.organization.id)))


@mfa_policy_api.put("/<org_id>/second-factor-policy")
@problems
def put_policy(org_id: str) -> Response:
    """Owners and admins (member:manage) set whether members' org tokens need a factor."""
    user = person()
    by = caller(user, org_id)
    by.require("member:manage")
    require = body().get("require_second_factor")
    if not isinstance(require, bool):
        raise Problem(422, "invalid-field", "require_second_factor must be true or false.")
    found = policy.set_policy(by.organization.id, require, user)
    changed("org.second_factor_policy", user, by.organization.id, require_second_factor=require)
    return jsonify(policy_view(found))
