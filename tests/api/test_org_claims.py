"""Organization claims: `orgs` for the orgs scope, and org-scoped tokens with
`organization=`, verified as a resource server would."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from authserver.extensions import db
from authserver.models import AuditEvent, GrantFamily, OrganizationMember, User
from authserver.oauth.claims import MAX_ORGS, MAX_TEAMS
from tests.factories import (
    make_member,
    make_org,
    make_permission,
    make_role,
    make_team,
    make_user,
)
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    refresh,
    register_client,
    sign_in,
    verify_as_resource_server,
)

SCOPE = "openid orgs offline_access"


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client(is_first_party=True)


@pytest.fixture
def acme(person: User):  # noqa: ANN201
    org = make_org(name="Acme", slug="acme")
    viewer = make_role("billing", "viewer")
    viewer.permissions = [make_permission("billing", "invoice", "read")]
    make_member(org, person, [viewer, make_role("crm", "agent")])
    db.session.commit()
    return org


def get_tokens(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, **extra: str
) -> dict:
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    response = http.get(
        "/authorize", query_string=authorize_params(client, challenge, scope=SCOPE, **extra)
    )
    params = redirect_params(response)
    assert "code" in params, params
    return redeem(http, client, params["code"], verifier).json


def claims_of(http: FlaskClient, token: str, client: RegisteredClient) -> dict:
    return verify_as_resource_server(http, token, client.client_id).claims


def test_the_orgs_scope_lists_memberships_in_both_tokens_and_userinfo(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, acme
) -> None:  # noqa: ANN001
    tokens = get_tokens(app, http, person, client)
    expected = [{"id": str(acme.id), "slug": "acme", "roles": ["billing:viewer", "crm:agent"]}]
    assert claims_of(http, tokens["access_token"], client)["orgs"] == expected
    assert claims_of(http, tokens["id_token"], client)["orgs"] == expected
    info = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json["orgs"] == expected


@pytest.mark.parametrize("reference", ["acme", "id"])
def test_organization_makes_an_org_scoped_token(
    app: Flask,
    http: FlaskClient,
    person: User,
    client: RegisteredClient,
    acme,
    reference: str,
) -> None:  # noqa: ANN001
    value = str(acme.id) if reference == "id" else "acme"
    claims = claims_of(
        http, get_tokens(app, http, person, client, organization=value)["access_token"], client
    )
    assert claims["org_id"] == str(acme.id) and claims["org_slug"] == "acme"
    assert claims["roles"] == ["billing:viewer", "crm:agent"]
    assert claims["permissions"] == ["billing:invoice:read"]


def test_a_non_member_is_refused_with_a_clear_error(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    make_org(slug="elsewhere")
    db.session.commit()
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    for reference in ("elsewhere", "no-such-org"):
        params = redirect_params(
            http.get(
                "/authorize",
                query_string=authorize_params(client, challenge, organization=reference),
            )
        )
        assert params["error"] == "access_denied" and params["iss"] == ISSUER
        assert "not a member" in params["error_description"]


def test_a_malformed_organization_is_invalid_request(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    params = redirect_params(
        http.get(
            "/authorize",
            query_string=authorize_params(client, challenge, organization="Not A Slug!"),
        )
    )
    assert params["error"] == "invalid_request"


def test_consent_names_the_organization(app: Flask, http: FlaskClient, person: User, acme) -> None:  # noqa: ANN001
    third_party = register_client(name="Reports")
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    page = http.get(
        "/authorize", query_string=authorize_params(third_party, challenge, organization="acme")
    )
    assert page.status_code == 200 and b"for the organization <strong>Acme</strong>" in page.data
    assert csrf_token_in(page.data)


def test_a_refresh_rereads_memberships(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, acme
) -> None:  # noqa: ANN001
    tokens = get_tokens(app, http, person, client)
    db.session.execute(delete(OrganizationMember))
    db.session.commit()
    refreshed = refresh(http, client, tokens["refresh_token"]).json
    assert claims_of(http, refreshed["access_token"], client)["orgs"] == []


def test_an_org_scoped_refresh_fails_once_the_member_is_removed(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, acme
) -> None:  # noqa: ANN001
    tokens = get_tokens(app, http, person, client, organization="acme")
    db.session.execute(delete(OrganizationMember))
    db.session.commit()
    response = refresh(http, client, tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    family = db.session.scalar(select(GrantFamily))
    db.session.refresh(family)
    assert family.revoked_reason == "membership_removed"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.event_type == "token.family_revoked")
    )
    assert event.details["reason"] == "membership_removed"


def test_a_person_in_very_many_orgs_gets_a_bounded_token(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    for n in range(MAX_ORGS + 5):
        make_member(make_org(slug=f"org-{n:03d}"), person)
    db.session.commit()
    tokens = get_tokens(app, http, person, client)
    claims = claims_of(http, tokens["access_token"], client)
    assert len(claims["orgs"]) == MAX_ORGS and claims["orgs_truncated"] is True
    assert len(tokens["access_token"]) < 8000


def test_many_teams_keep_the_token_bounded_and_say_so(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    viewer = make_role("billing", "viewer")
    for n in range(MAX_ORGS + 5):
        org = make_org(slug=f"org-{n:03d}")
        member = make_member(org, person)
        for t in range(MAX_TEAMS + 1 if n == 0 else 2):
            team = make_team(org, slug=f"team-{t:02d}", roles=[viewer])
            team.members.append(member)
    db.session.commit()

    tokens = get_tokens(app, http, person, client)

    claims = claims_of(http, tokens["access_token"], client)
    assert len(claims["orgs"]) == MAX_ORGS and claims["orgs_truncated"] is True
    first, second = claims["orgs"][:2]
    assert len(first["teams"]) == MAX_TEAMS and first["teams_truncated"] is True
    assert second["teams"] == ["team-00", "team-01"] and "teams_truncated" not in second
    assert second["roles"] == ["billing:viewer"]  # held through two teams, listed once
    assert len(tokens["access_token"]) < 16000


def test_a_resource_indicator_narrows_audience_and_roles_to_the_service(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, acme
) -> None:  # noqa: ANN001
    tokens = get_tokens(app, http, person, client, organization="acme", resource="billing")
    claims = verify_as_resource_server(http, tokens["access_token"], "billing").claims
    assert claims["aud"] == "billing"
    assert claims["roles"] == ["billing:viewer"]
    assert claims["permissions"] == ["billing:invoice:read"]
    assert claims["orgs"][0]["roles"] == ["billing:viewer"]
    info = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json["orgs"][0]["roles"] == ["billing:viewer"]
    refreshed = refresh(http, client, tokens["refresh_token"]).json
    assert verify_as_resource_server(http, refreshed["access_token"], "billing").claims[
        "roles"
    ] == ["billing:viewer"]


@pytest.mark.parametrize("resource", ["no-such-service", ["billing", "crm"]])
def test_an_unknown_or_repeated_resource_is_invalid_target(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, acme, resource
) -> None:  # noqa: ANN001
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    query = list(authorize_params(client, challenge).items())
    for value in resource if isinstance(resource, list) else [resource]:
        query.append(("resource", value))
    params = redirect_params(http.get("/authorize", query_string=query))
    assert params["error"] == "invalid_target" and params["iss"] == ISSUER


def test_an_org_scoped_request_keeps_its_organization_through_consent(
    app: Flask, http: FlaskClient, person: User, acme
) -> None:  # noqa: ANN001
    third_party = register_client(name="Reports")
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    page = http.get(
        "/authorize",
        query_string=authorize_params(third_party, challenge, scope=SCOPE, organization="acme"),
    )
    action = re.search(rb'<form method="post" action="([^"]+)"', page.data).group(1).decode()
    approved = http.post(
        action, data={"csrf_token": csrf_token_in(page.data), "decision": "approve"}
    )
    tokens = redeem(http, third_party, redirect_params(approved)["code"], verifier).json
    claims = claims_of(http, tokens["access_token"], third_party)
    assert claims["org_slug"] == "acme" and claims["roles"] == ["billing:viewer", "crm:agent"]


def test_consent_is_refused_when_membership_ends_while_the_page_is_open(
    app: Flask, http: FlaskClient, person: User, acme
) -> None:  # noqa: ANN001
    third_party = register_client(name="Reports")
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    page = http.get(
        "/authorize", query_string=authorize_params(third_party, challenge, organization="acme")
    )
    db.session.execute(delete(OrganizationMember))
    db.session.commit()
    action = re.search(rb'<form method="post" action="([^"]+)"', page.data).group(1).decode()
    refused = http.post(
        action, data={"csrf_token": csrf_token_in(page.data), "decision": "approve"}
    )
    assert redirect_params(refused)["error"] == "access_denied"
