"""The account page's organization API keys: an admin makes one (shown once, with roles no
more than they may grant), lists and revokes them; everyone else is refused; the org's
second-factor rule guards making one, while using one stays a plain exchange."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.credentials import api_keys
from authserver.extensions import db
from authserver.mfa.policy import set_policy
from authserver.models import ApiKey, AuditEvent, Organization, Role, User
from authserver.models.clients import TOKEN_EXCHANGE
from authserver.orgs import service as orgs
from authserver.services.sync import sync_auth_manifest
from tests.api.test_api_keys import exchange_key
from tests.factories import make_member, make_org, make_role, make_team, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    csrf_token_in,
    register_client,
    sign_in,
    verify_as_resource_server,
)

MULTI_FACTOR = ("pwd", "otp", "mfa")


@pytest.fixture
def org(app: Flask) -> Organization:
    sync_auth_manifest()
    make_role("billing", "viewer", description="See invoices")
    make_role("billing", "payer")
    organization = make_org(name="Analytical <Engines>")
    db.session.commit()
    return organization


def person_in(org: Organization, email: str, role: str) -> User:
    user = make_user(email=email, display_name=email.split("@")[0])
    make_member(org, user, [Role.find("auth", role)])
    db.session.commit()
    return user


@pytest.fixture
def admin(org: Organization) -> User:
    return person_in(org, "ada@example.com", "admin")


@pytest.fixture
def script(app: Flask) -> RegisteredClient:
    return register_client(public=True, grant_types=[TOKEN_EXCHANGE], redirect_uris=[])


def keys_path(org: Organization) -> str:
    return f"/account/orgs/{org.id}/api-keys"


def make_key(http: FlaskClient, org: Organization, **form: object):  # noqa: ANN201
    token = csrf_token_in(http.get(keys_path(org)).data)
    return http.post(keys_path(org), data={"csrf_token": token, "name": "CI", **form})


def key_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey))


def test_an_admin_makes_a_key_sees_it_once_and_it_acts_for_the_org(
    app: Flask, http: FlaskClient, org: Organization, admin: User, script: RegisteredClient
) -> None:
    sign_in(app, http, admin)
    made = make_key(http, org, name="<Nightly>", roles=["billing:viewer"], expires_in_days="30")

    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    raw = re.search(rb'<code id="api-key">(ask_live_[^<]+)</code>', made.data).group(1).decode()
    key = db.session.scalar(select(ApiKey))
    assert key.organization_id == org.id and key.created_by_id == admin.id
    assert [r.qualified_name for r in key.roles] == ["billing:viewer"]
    assert (key.expires_at - key.created_at).days == 30
    listing = http.get(keys_path(org)).data
    assert key.prefix.encode() in listing and raw.encode() not in listing
    assert b"&lt;Nightly&gt;" in listing and b"by ada" in listing and b"See invoices" in listing
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "api_key.created"))
    assert event.organization_id == org.id and event.actor_user_id == admin.id
    assert event.target_id == str(key.id) and event.details["roles"] == ["billing:viewer"]
    exchanged = exchange_key(http, script, raw, resource="billing")
    assert exchanged.status_code == 200, exchanged.json
    token = exchanged.json["access_token"]
    claims = verify_as_resource_server(http, token, audience="billing").claims
    assert claims["sub"] == str(org.id) and claims["roles"] == ["billing:viewer"]


def test_the_account_page_links_admins_to_the_keys_and_nobody_else(
    app: Flask, http: FlaskClient, org: Organization, admin: User
) -> None:
    member = person_in(org, "grace@example.com", "member")
    sign_in(app, http, admin)
    assert keys_path(org).encode() in http.get("/account").data
    other = app.test_client()
    sign_in(app, other, member)
    assert keys_path(org).encode() not in other.get("/account").data


def test_the_form_offers_only_service_roles_and_refuses_any_other_with_a_page(
    app: Flask, http: FlaskClient, org: Organization, admin: User
) -> None:
    sign_in(app, http, admin)
    form = http.get(keys_path(org)).data
    assert b'value="billing:viewer"' in form and b'value="billing:payer"' in form
    assert b'value="auth:' not in form
    for role in ("auth:admin", "auth:owner", "billing:god"):
        refused = make_key(http, org, roles=["billing:viewer", role])
        assert refused.status_code == 422 and refused.mimetype == "text/html"
        assert b"A key can hold only the roles offered here." in refused.data
        assert b'<form method="post"' in refused.data  # the form again, to correct
    assert key_count() == 0


@pytest.mark.parametrize(
    "form",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "bell\x07"},
        {"expires_in_days": "soon"},
        {"expires_in_days": "0"},
        {"expires_in_days": "367"},
    ],
    ids=["empty-name", "long-name", "control-name", "not-a-number", "zero-days", "too-long"],
)
def test_bad_input_is_a_friendly_page_and_makes_nothing(
    app: Flask, http: FlaskClient, org: Organization, admin: User, form: dict
) -> None:
    sign_in(app, http, admin)
    refused = make_key(http, org, **form)
    assert refused.status_code == 422 and refused.mimetype == "text/html"
    assert b'role="alert"' in refused.data
    assert key_count() == 0


def test_a_revoked_key_stops_its_exchange_at_once(
    app: Flask, http: FlaskClient, org: Organization, admin: User, script: RegisteredClient
) -> None:
    sign_in(app, http, admin)
    raw = re.search(rb"(ask_live_[^<]+)</code>", make_key(http, org).data).group(1).decode()
    key = db.session.scalar(select(ApiKey))
    token = csrf_token_in(http.get(keys_path(org)).data)

    revoked = http.post(f"{keys_path(org)}/{key.id}/revoke", data={"csrf_token": token})

    assert revoked.status_code == 303 and revoked.headers["Location"].endswith("done=revoked")
    assert exchange_key(http, script, raw).json["error"] == "invalid_grant"
    again = http.post(f"{keys_path(org)}/{key.id}/revoke", data={"csrf_token": token})
    assert again.status_code == 409 and again.mimetype == "text/html"
    events = db.session.scalars(
        select(AuditEvent.event_type).where(AuditEvent.target_id == str(key.id))
    )
    assert sorted(events) == ["api_key.created", "api_key.revoked"]


def test_a_key_of_another_org_cannot_be_revoked_through_this_one(
    app: Flask, http: FlaskClient, org: Organization, admin: User
) -> None:
    other = make_org()
    make_member(other, admin, [Role.find("auth", "admin")])
    db.session.commit()
    theirs, _ = api_keys.create_for_org(
        orgs.caller(admin, str(other.id)), "theirs", [], [], None, auth_methods=("pwd",)
    )
    db.session.commit()
    sign_in(app, http, admin)
    token = csrf_token_in(http.get(keys_path(org)).data)
    refused = http.post(f"{keys_path(org)}/{theirs.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiKey, theirs.id).revoked_at is None


@pytest.mark.parametrize(("role", "status"), [("member", 403), (None, 404)])
def test_a_non_admin_gets_a_refusal_page_not_the_form(
    app: Flask, http: FlaskClient, org: Organization, admin: User, role: str | None, status: int
) -> None:
    key, _ = api_keys.create_for_org(
        orgs.caller(admin, str(org.id)), "CI", [], [], None, auth_methods=("pwd",)
    )
    db.session.commit()
    user = person_in(org, "grace@example.com", role) if role else make_user()
    db.session.commit()
    sign_in(app, http, user)
    token = csrf_token_in(http.get("/account").data)
    for method, path in (
        ("GET", keys_path(org)),
        ("POST", keys_path(org)),
        ("POST", f"{keys_path(org)}/{key.id}/revoke"),
    ):
        answer = http.open(path, method=method, data={"csrf_token": token, "name": "mine"})
        assert answer.status_code == status, (method, path)
        assert b"org-key-name" not in answer.data and key.prefix.encode() not in answer.data
    db.session.expire_all()
    assert key_count() == 1 and db.session.get(ApiKey, key.id).revoked_at is None


def test_making_and_revoking_need_the_csrf_token(
    app: Flask, http: FlaskClient, org: Organization, admin: User
) -> None:
    sign_in(app, http, admin)
    assert http.post(keys_path(org), data={"name": "CI"}).status_code == 400
    assert key_count() == 0
    make_key(http, org)
    key = db.session.scalar(select(ApiKey))
    assert http.post(f"{keys_path(org)}/{key.id}/revoke").status_code == 400
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is None


def test_signed_out_the_page_asks_to_sign_in(http: FlaskClient, org: Organization) -> None:
    assert http.get(keys_path(org)).status_code == 303


def test_an_org_that_requires_a_second_factor_gets_keys_only_from_admins_who_used_one(
    app: Flask, http: FlaskClient, org: Organization, admin: User, script: RegisteredClient
) -> None:
    set_policy(org.id, True, admin)
    db.session.commit()
    sign_in(app, http, admin)  # a password only
    assert http.get(keys_path(org)).status_code == 403
    token = csrf_token_in(http.get("/account").data)
    refused = http.post(keys_path(org), data={"csrf_token": token, "name": "CI"})
    assert refused.status_code == 403 and b"second factor" in refused.data
    assert key_count() == 0

    sign_in(app, http, admin, methods=MULTI_FACTOR)  # signed in again, with a second factor
    made = make_key(http, org, roles=["billing:viewer"])
    raw = re.search(rb"(ask_live_[^<]+)</code>", made.data).group(1).decode()
    # Using the key is no sign-in: the exchange does not ask the key for a second factor,
    # and its token carries the key's roles.
    exchanged = exchange_key(http, script, raw, resource="billing")
    assert exchanged.status_code == 200, exchanged.json
    token = exchanged.json["access_token"]
    claims = verify_as_resource_server(http, token, audience="billing").claims
    assert claims["roles"] == ["billing:viewer"]


def test_the_rule_itself_refuses_a_password_only_creator(org: Organization, admin: User) -> None:
    """Whoever calls create_for_org (API, page, a later CLI) meets the rule."""
    set_policy(org.id, True, admin)
    by = orgs.caller(admin, str(org.id))
    with pytest.raises(api_keys.SecondFactorRequired):
        api_keys.create_for_org(by, "CI", [], [], None, auth_methods=("pwd",))
    key, _ = api_keys.create_for_org(by, "CI", [], [], None, auth_methods=MULTI_FACTOR)
    assert key.organization_id == org.id


def test_the_page_speaks_german(
    app: Flask, http: FlaskClient, org: Organization, admin: User
) -> None:
    sign_in(app, http, admin)
    page = http.get(keys_path(org), headers={"Accept-Language": "de"}).data.decode()
    assert "API-Schlüssel" in page and "Make a key" not in page


def test_a_full_org_is_told_so_in_german(
    app: Flask,
    http: FlaskClient,
    org: Organization,
    admin: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api_keys, "MAX_KEYS", 1)
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"  # the test's requests share one g
    sign_in(app, http, admin)
    assert make_key(http, org).status_code == 200
    refused = make_key(http, org)
    page = refused.data.decode()
    assert refused.status_code == 409
    assert "Eine Organisation hat höchstens 1 Schlüssel; widerrufen Sie zuerst einen." in page
    assert "keeps at most" not in page and key_count() == 1


def test_a_key_can_join_the_orgs_teams_and_holds_their_roles(
    app: Flask, http: FlaskClient, org: Organization, admin: User, script: RegisteredClient
) -> None:
    payments = make_team(org, slug="payments", name="Payments")
    payments.roles.append(Role.find("billing", "payer"))
    elsewhere = make_team(make_org(), slug="other", name="Other")
    db.session.commit()
    sign_in(app, http, admin)
    assert b"Payments" in http.get(keys_path(org)).data

    refused = make_key(http, org, teams=[str(elsewhere.id)])
    assert refused.status_code == 422 and b"only the teams offered" in refused.data
    made = make_key(http, org, teams=[str(payments.id)])
    raw = re.search(rb"(ask_live_[^<]+)</code>", made.data).group(1).decode()

    exchanged = exchange_key(http, script, raw, resource="billing").json
    claims = verify_as_resource_server(http, exchanged["access_token"], audience="billing").claims
    assert claims["roles"] == ["billing:payer"] and claims["teams"] == ["payments"]
