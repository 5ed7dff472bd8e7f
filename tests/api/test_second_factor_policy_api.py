"""/api/v1/orgs/{org}/second-factor-policy: members read it, owners and admins change it."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask

from authserver.extensions import db
from authserver.models import AuditEvent, OrganizationFactorPolicy
from tests.api.conftest import Person, assert_problem, join


def path(org: dict) -> str:
    return f"/{org['id']}/second-factor-policy"


def test_a_new_org_requires_no_second_factor(owner: Person, org: dict) -> None:
    response = owner.call("GET", path(org))
    assert response.status_code == 200
    assert response.json == {"require_second_factor": False, "updated_at": None}


def test_the_owner_requires_a_second_factor_and_it_is_audited(owner: Person, org: dict) -> None:
    response = owner.call("PUT", path(org), {"require_second_factor": True})
    assert response.status_code == 200 and response.json["require_second_factor"] is True
    assert db.session.get(OrganizationFactorPolicy, uuid.UUID(org["id"])) is not None
    event = db.session.query(AuditEvent).filter_by(event_type="org.second_factor_policy").one()
    assert event.details == {"require_second_factor": True}
    with_factor = Person(owner.http.application, "owner@example.com", methods=MULTI_FACTOR)
    assert with_factor.call("GET", path(org)).json["require_second_factor"] is True


MULTI_FACTOR = ("pwd", "otp", "mfa")


def require_second_factor(owner: Person, org: dict) -> None:
    assert owner.call("PUT", path(org), {"require_second_factor": True}).status_code == 200


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/members", None),
        ("GET", "/invitations", None),
        ("POST", "/invitations", {"email": "new@example.com", "roles": ["auth:admin"]}),
        ("PATCH", "", {"name": "Renamed"}),
        ("PUT", "/second-factor-policy", {"require_second_factor": False}),
        ("DELETE", "", None),
    ],
)
def test_a_password_only_token_is_refused_by_an_org_that_requires_a_second_factor(
    app: Flask, owner: Person, org: dict, method: str, suffix: str, body: object
) -> None:
    """Security review: the policy guards the org's data and settings as it guards its
    org-scoped tokens; a stolen password must not read members, invite an admin or switch
    the policy off."""
    require_second_factor(owner, org)
    refused = owner.call(method, f"/{org['id']}{suffix}", body)
    assert_problem(refused, 403)
    assert refused.json["type"].endswith("second-factor-required")
    with_factor = Person(app, "owner@example.com", methods=MULTI_FACTOR)
    assert with_factor.call(method, f"/{org['id']}{suffix}", body).status_code < 400


def test_without_a_second_factor_the_orgs_claim_withholds_that_orgs_roles(
    app: Flask, owner: Person, org: dict
) -> None:
    """An `orgs` token carries every membership's roles; for an org that requires a second
    factor, a sign-in without one gets the membership marked and no roles."""
    from tests.oauth_helpers import verify_as_resource_server

    require_second_factor(owner, org)
    plain = Person(app, "owner@example.com")
    claims = verify_as_resource_server(plain.http, plain.token, "auth").claims
    (entry,) = [o for o in claims["orgs"] if o["id"] == org["id"]]
    assert entry["roles"] == [] and entry["second_factor_required"] is True
    strong = Person(app, "owner@example.com", methods=MULTI_FACTOR)
    claims = verify_as_resource_server(strong.http, strong.token, "auth").claims
    (entry,) = [o for o in claims["orgs"] if o["id"] == org["id"]]
    assert "auth:owner" in entry["roles"] and "second_factor_required" not in entry
    info = plain.http.get("/userinfo", headers={"Authorization": f"Bearer {plain.token}"})
    (entry,) = [o for o in info.json["orgs"] if o["id"] == org["id"]]
    assert entry["roles"] == [] and entry["second_factor_required"] is True


def test_a_plain_member_reads_the_policy_but_cannot_change_it(
    app: Flask, owner: Person, org: dict
) -> None:
    member = Person(app, "member@example.com")
    join(owner, org, member, ["auth:member"])
    assert member.call("GET", path(org)).status_code == 200
    assert_problem(member.call("PUT", path(org), {"require_second_factor": True}), 403)


def test_a_non_member_sees_no_such_organization(app: Flask, owner: Person, org: dict) -> None:
    stranger = Person(app, "stranger@example.com")
    assert_problem(stranger.call("GET", path(org)), 404)
    assert_problem(stranger.call("PUT", path(org), {"require_second_factor": True}), 404)


@pytest.mark.parametrize("value", ["true", 1, None, [True]])
def test_anything_but_a_boolean_is_refused(owner: Person, org: dict, value: object) -> None:
    assert_problem(owner.call("PUT", path(org), {"require_second_factor": value}), 422)


def test_a_body_that_is_not_json_is_refused(owner: Person, org: dict) -> None:
    response = owner.http.put(
        f"/api/v1/orgs{path(org)}",
        data="require=1",
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert_problem(response, 415)
