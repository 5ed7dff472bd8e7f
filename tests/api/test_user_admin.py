"""`authserver users disable | enable | sign-out`: an operator ends a person's access."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.identity.passwords import hash_password
from authserver.models import AuditEvent, GrantFamily, Session, User
from authserver.users_cli import users_cli
from tests.factories import make_user
from tests.oauth_helpers import (
    RegisteredClient,
    csrf_token_in,
    issue_code,
    pkce_pair,
    redeem,
    refresh,
    register_client,
    sign_in,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(password_hash=hash_password(PASSWORD), email_verified=True)
    db.session.commit()
    return user


def grant(http: FlaskClient, client: RegisteredClient, person: User, scope: str) -> dict:
    verifier, challenge = pkce_pair()
    response = redeem(http, client, issue_code(client, person, challenge, scope=scope), verifier)
    assert response.status_code == 200, response.json
    return response.json


def run_users(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(users_cli, list(args))
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result.output


def password_sign_in(http: FlaskClient, email: str) -> int:
    form = {
        "email": email,
        "password": PASSWORD,
        "csrf_token": csrf_token_in(http.get("/sign-in").data),
    }
    return http.post("/sign-in", data=form).status_code


def introspect(http: FlaskClient, client: RegisteredClient, token: str) -> bool:
    response = http.post(
        "/introspect", data={"token": token}, auth=(client.client_id, client.secret)
    )
    return response.json["active"]


def test_disabling_a_person_ends_every_session_and_revokes_every_grant(
    app: Flask, http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    sign_in(app, http, person)
    offline = grant(http, client, person, "openid offline_access")
    online = grant(http, client, person, "openid profile")

    output = run_users(app, "disable", person.email.upper())

    assert "1 session(s) ended, 2 grant(s) revoked" in output
    assert db.session.scalars(select(Session).where(Session.user_id == person.id)).all() == []
    assert refresh(http, client, offline["refresh_token"]).json["error"] == "invalid_grant"
    for tokens in (offline, online):
        assert introspect(http, client, tokens["access_token"]) is False
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert http.get("/userinfo", headers=bearer).status_code == 401
    assert http.get("/account").status_code in (302, 303)  # the old cookie signs in no one
    assert password_sign_in(http, person.email) == 401
    reasons = {family.revoked_reason for family in GrantFamily.query.filter_by(user_id=person.id)}
    assert reasons == {"admin"}


def test_disabling_is_audited_with_the_reason_on_every_revocation(
    app: Flask, http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    sign_in(app, http, person)
    grant(http, client, person, "openid offline_access")
    run_users(app, "disable", person.email)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.occurred_at)).all()
    seen = {(event.event_type, event.details.get("reason")) for event in events}
    assert ("user.disabled", None) in seen
    assert ("session.ended", "admin") in seen
    assert ("token.family_revoked", "admin") in seen


def test_an_enabled_person_signs_in_again(app: Flask, http: FlaskClient, person: User) -> None:
    run_users(app, "disable", person.email)
    assert password_sign_in(http, person.email) == 401
    run_users(app, "enable", person.email)
    assert password_sign_in(http, person.email) == 303
    assert db.session.get(User, person.id).is_active


def test_signing_a_person_out_everywhere_leaves_the_account_usable(
    app: Flask, http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    sign_in(app, http, person)
    tokens = grant(http, client, person, "openid offline_access")
    output = run_users(app, "sign-out", person.email)
    assert "1 session(s) ended, 1 grant(s) revoked" in output
    assert refresh(http, client, tokens["refresh_token"]).json["error"] == "invalid_grant"
    assert db.session.get(User, person.id).is_active
    assert password_sign_in(http, person.email) == 303


@pytest.mark.parametrize("command", ["disable", "enable", "sign-out"])
def test_an_unknown_email_is_named_and_nothing_changes(app: Flask, command: str) -> None:
    result = app.test_cli_runner().invoke(users_cli, [command, "nobody@example.com"])
    assert result.exit_code == 2
    assert "no person with the email 'nobody@example.com'" in result.output
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_grants_started_by_a_session_are_counted_and_revoked_as_admin(
    app: Flask, http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    session_id = sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge, scope="openid profile", session_id=session_id)
    assert redeem(http, client, code, verifier).status_code == 200

    output = run_users(app, "sign-out", person.email)

    assert "1 session(s) ended, 1 grant(s) revoked" in output
    [family] = GrantFamily.query.filter_by(user_id=person.id).all()
    assert family.revoked_reason == "admin"
