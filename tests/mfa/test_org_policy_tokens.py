"""An organization that requires a second factor: its org-scoped tokens stop refreshing
for a family whose sign-in had none, and keep refreshing for one that used it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import (
    AuditEvent,
    AuthorizationCode,
    GrantFamily,
    OrganizationFactorPolicy,
    User,
)
from tests.factories import make_member, make_org, make_user
from tests.oauth_helpers import (
    authorize_params,
    pkce_pair,
    redeem,
    redirect_params,
    refresh,
    register_client,
    sign_in,
)


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def org_tokens(app: Flask, http: FlaskClient, person: User, methods: tuple[str, ...]):  # noqa: ANN201
    org = make_org(slug="acme")
    make_member(org, person)
    db.session.commit()
    client = register_client(is_first_party=True)
    sign_in(app, http, person, methods=methods)
    verifier, challenge = pkce_pair()
    params = authorize_params(
        client, challenge, scope="openid orgs offline_access", organization="acme"
    )
    code = redirect_params(http.get("/authorize", query_string=params))["code"]
    tokens = redeem(http, client, code, verifier).json
    db.session.add(OrganizationFactorPolicy(organization_id=org.id, require_second_factor=True))
    db.session.commit()
    return client, tokens


def test_switching_the_policy_on_stops_a_password_familys_org_refresh(
    app: Flask, http: FlaskClient, person: User
) -> None:
    client, tokens = org_tokens(app, http, person, ("pwd",))
    response = refresh(http, client, tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_a_refresh_the_policy_refuses_revokes_the_family_for_the_policy_not_membership(
    app: Flask, http: FlaskClient, person: User
) -> None:
    client, tokens = org_tokens(app, http, person, ("pwd",))
    assert refresh(http, client, tokens["refresh_token"]).status_code == 400
    family = db.session.scalar(select(GrantFamily))
    db.session.refresh(family)
    assert family.revoked_reason == "second_factor_required"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.event_type == "token.family_revoked")
    )
    assert event.details["reason"] == "second_factor_required"
    assert event.organization_id == family.organization_id


def test_a_family_that_used_a_second_factor_keeps_refreshing(
    app: Flask, http: FlaskClient, person: User
) -> None:
    client, tokens = org_tokens(app, http, person, ("pwd", "otp", "mfa"))
    assert refresh(http, client, tokens["refresh_token"]).status_code == 200


def test_an_exchange_the_policy_refuses_starts_no_family(
    app: Flask, http: FlaskClient, person: User
) -> None:
    """The org's rule is read before the code is used: a refused exchange leaves no family
    behind, nor a code marked used by one."""
    org = make_org(slug="acme")
    make_member(org, person)
    db.session.commit()
    client = register_client(is_first_party=True)
    sign_in(app, http, person, methods=("pwd",))
    verifier, challenge = pkce_pair()
    params = authorize_params(client, challenge, scope="openid orgs", organization="acme")
    code = redirect_params(http.get("/authorize", query_string=params))["code"]
    db.session.add(OrganizationFactorPolicy(organization_id=org.id, require_second_factor=True))
    db.session.commit()

    refused = redeem(http, client, code, verifier)

    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(GrantFamily)) == 0
    assert db.session.scalar(select(AuthorizationCode.used_at)) is None
