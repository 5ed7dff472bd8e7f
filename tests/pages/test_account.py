"""The account page: profile, sessions, connected apps, organizations and invitations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.clock import utcnow
from authserver.credentials import api_keys
from authserver.extensions import db
from authserver.models import ApiKey, Consent, GrantFamily, Session, User
from tests.factories import (
    make_invitation,
    make_member,
    make_org,
    make_role,
    make_team,
    make_user,
)
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    refresh,
    register_client,
    sign_in,
)


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(display_name="Ada <Lovelace>", email="ada@example.com", email_verified=True)
    db.session.commit()
    return user


def test_the_account_page_needs_a_signed_in_person(http: FlaskClient) -> None:
    response = http.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sign-in?return_to=account")


def test_the_page_shows_profile_sessions_apps_orgs_and_invitations(
    app: Flask, http: FlaskClient, person: User
) -> None:
    org = make_org(name="Analytical Engines")
    make_member(org, person, [make_role("billing", "admin")])
    make_invitation(make_org(name="Difference Ltd"), email="ada@example.com")
    make_invitation(
        make_org(name="Expired Co"),
        email="ada@example.com",
        expires_at=utcnow() - timedelta(days=1),
    )
    client = register_client(name="Acme Reports")
    db.session.add(Consent(user_id=person.id, client_id=client.client.id, scopes=["email"]))
    db.session.commit()
    sign_in(app, http, person)

    page = http.get("/account")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.data
    assert b"Ada &lt;Lovelace&gt;" in text  # escaped
    assert b"Acme Reports" in text and b"See your email address" in text
    assert b"Analytical Engines" in text and b"billing:admin" in text
    assert b"Difference Ltd" in text and b"Expired Co" not in text
    assert b"this browser" in text


def test_ending_another_session_keeps_this_one(app: Flask, http: FlaskClient, person: User) -> None:
    other = sign_in(app, app.test_client(), person)
    sign_in(app, http, person)
    page = http.get("/account")
    response = http.post(
        f"/account/sessions/{other}/end", data={"csrf_token": csrf_token_in(page.data)}
    )
    assert response.status_code == 303
    assert db.session.get(Session, other) is None
    assert http.get("/account").status_code == 200


def test_ending_this_session_signs_out(app: Flask, http: FlaskClient, person: User) -> None:
    mine = sign_in(app, http, person)
    page = http.get("/account")
    response = http.post(
        f"/account/sessions/{mine}/end", data={"csrf_token": csrf_token_in(page.data)}
    )
    assert response.headers["Location"].endswith("/sign-in")
    assert http.get("/account").status_code == 303


def test_someone_elses_session_cannot_be_ended(app: Flask, http: FlaskClient, person: User) -> None:
    stranger = make_user()
    db.session.commit()
    theirs = sign_in(app, app.test_client(), stranger)
    sign_in(app, http, person)
    page = http.get("/account")
    response = http.post(
        f"/account/sessions/{theirs}/end", data={"csrf_token": csrf_token_in(page.data)}
    )
    assert response.status_code == 404
    assert db.session.get(Session, theirs) is not None


def test_disconnecting_an_app_forgets_consent_and_revokes_its_tokens(
    app: Flask, http: FlaskClient, person: User
) -> None:
    client = register_client(name="Acme Reports")
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    page = http.get("/authorize", query_string=authorize_params(client, challenge))
    approved = http.post(
        re.search(rb'<form method="post" action="([^"]+)"', page.data).group(1).decode(),
        data={"csrf_token": csrf_token_in(page.data), "decision": "approve"},
    )
    tokens = redeem(http, client, redirect_params(approved)["code"], verifier).json

    account = http.get("/account")
    response = http.post(
        f"/account/apps/{client.client_id}/disconnect",
        data={"csrf_token": csrf_token_in(account.data)},
    )
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0
    assert db.session.scalar(select(GrantFamily)).revoked_reason == "user_revoked"
    assert refresh(http, client, tokens["refresh_token"]).json["error"] == "invalid_grant"
    again = http.get("/authorize", query_string=authorize_params(client, challenge))
    assert again.status_code == 200 and b"Acme Reports" in again.data  # asked again


@pytest.mark.parametrize(
    "path", ["/account/sessions/{sid}/end", "/account/apps/some-app/disconnect"]
)
def test_account_actions_need_the_csrf_token(
    app: Flask, http: FlaskClient, person: User, path: str
) -> None:
    sid = sign_in(app, http, person)
    response = http.post(path.format(sid=sid))
    assert response.status_code == 400
    assert db.session.get(Session, sid) is not None


def test_sign_in_can_return_to_the_account_page_but_nowhere_else(
    http: FlaskClient, app: Flask
) -> None:
    from authserver.identity.passwords import hash_password

    make_user(email="bob@example.com", password_hash=hash_password("a long password"))
    db.session.commit()
    for return_to, expected in (
        ("account", "/account"),
        ("https://evil.example.com", "/signed-in"),
    ):
        page = http.get("/sign-in", query_string={"return_to": return_to})
        response = http.post(
            "/sign-in",
            data={
                "csrf_token": csrf_token_in(page.data),
                "email": "bob@example.com",
                "password": "a long password",
                "return_to": return_to,
            },
        )
        assert response.headers["Location"] == expected


def test_the_page_shows_the_persons_teams_escaped(
    app: Flask, http: FlaskClient, person: User
) -> None:
    org = make_org(name="Analytical Engines")
    member = make_member(org, person)
    engines = make_team(org, slug="engines", name="<Engines>")
    engines.members.append(member)
    make_team(org, slug="looms", name="Looms")  # not hers
    db.session.commit()
    sign_in(app, http, person)

    text = http.get("/account").data

    assert b"Teams: &lt;Engines&gt;" in text and b"Looms" not in text


def test_a_person_makes_a_key_sees_it_once_and_revokes_it(
    app: Flask, http: FlaskClient, person: User
) -> None:
    sign_in(app, http, person)
    token = csrf_token_in(http.get("/account").data)

    made = http.post("/account/api-keys", data={"csrf_token": token, "name": "<laptop>"})

    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    raw = re.search(rb'<code id="api-key">(ask_live_[^<]+)</code>', made.data).group(1).decode()
    key = db.session.scalar(select(ApiKey))
    assert key.name == "<laptop>" and raw.startswith(key.prefix)
    page = http.get("/account").data
    assert key.prefix.encode() in page and raw.encode() not in page and b"&lt;laptop&gt;" in page
    revoked = http.post(f"/account/api-keys/{key.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).revoked_at is not None


@pytest.mark.parametrize("name", ["", "x" * 101, "bell\x07"])
def test_a_bad_key_name_is_a_friendly_page(
    app: Flask, http: FlaskClient, person: User, name: str
) -> None:
    sign_in(app, http, person)
    token = csrf_token_in(http.get("/account").data)
    refused = http.post("/account/api-keys", data={"csrf_token": token, "name": name})
    assert refused.status_code == 422 and b"The key was not made" in refused.data
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


@pytest.mark.parametrize(
    ("name", "german"),
    [("", "Der Name muss 1 bis 100 Zeichen lang sein."), ("bell\x07", "keine Steuerzeichen")],
)
def test_a_refused_key_is_explained_in_the_pages_language(
    app: Flask, http: FlaskClient, person: User, name: str, german: str
) -> None:
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"  # the test's requests share one g
    sign_in(app, http, person)
    token = csrf_token_in(http.get("/account").data)
    refused = http.post("/account/api-keys", data={"csrf_token": token, "name": name})
    page = refused.data.decode()
    assert refused.status_code == 422 and german in page
    assert "The name must" not in page


def test_someone_elses_key_is_not_found_in_the_pages_language(
    app: Flask, http: FlaskClient, person: User
) -> None:
    theirs, _ = api_keys.create_personal(make_user(), "theirs", None, None)
    db.session.commit()
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    sign_in(app, http, person)
    token = csrf_token_in(http.get("/account").data)
    refused = http.post(f"/account/api-keys/{theirs.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404 and "Diesen Schlüssel gibt es nicht." in refused.data.decode()


def test_someone_elses_key_cannot_be_revoked_from_the_page(
    app: Flask, http: FlaskClient, person: User
) -> None:
    other = make_user()
    db.session.commit()
    theirs, _ = api_keys.create_personal(other, "theirs", None, None)
    db.session.commit()
    sign_in(app, http, person)
    token = csrf_token_in(http.get("/account").data)
    refused = http.post(f"/account/api-keys/{theirs.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404
