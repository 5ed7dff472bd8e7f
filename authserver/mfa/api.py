"""/api/v1/orgs/{org_id}/second-factor-policy: an organization's rule, shown and changed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from authserver.api import models
from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.operations import route
from authserver.api.orgs import caller, changed, person, problems
from authserver.extensions import csrf, db
from authserver.mfa import policy
from authserver.models import OrganizationFactorPolicy

mfa_policy_api = Blueprint("mfa_policy_api", __name__, url_prefix="/api/v1/orgs")
csrf.exempt(mfa_policy_api)  # Bearer tokens, not cookies


def policy_view(found: OrganizationFactorPolicy | None) -> dict[str, Any]:
    return models.FactorPolicy(
        require_second_factor=bool(found and found.require_second_factor),
        updated_at=found.updated_at if found else None,
    ).model_dump(mode="json")


@route(
    mfa_policy_api,
    "GET",
    "/<org_id>/second-factor-policy",
    "The organization's second-factor policy",
    scope=READ,
    returns=models.FactorPolicy,
)
@problems
def get_policy(org_id: str) -> Response:
    """Every member may read the rule that applies to them."""
    by = caller(person(), org_id)
    by.require("member:read")
    return jsonify(policy_view(db.session.get(OrganizationFactorPolicy, by.organization.id)))


@route(
    mfa_policy_api,
    "PUT",
    "/<org_id>/second-factor-policy",
    "Require (or stop requiring) a second factor for the organization's tokens",
    scope=WRITE,
    body=models.FactorPolicyChange,
    returns=models.FactorPolicy,
    errors={415: "Not JSON", 422: "Not a boolean"},
)
@problems
def put_policy(org_id: str) -> Response:
    """Owners and admins (member:manage) set whether members' org tokens need a factor."""
    user = person()
    by = caller(user, org_id)
    by.require("member:manage")
    require = models.parse(models.FactorPolicyChange).require_second_factor
    found = policy.set_policy(by.organization.id, require, user)
    changed("org.second_factor_policy", user, by.organization.id, require_second_factor=require)
    return jsonify(policy_view(found))
