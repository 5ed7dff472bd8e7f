"""/userinfo (Bearer, GET and POST) and /logout (RP-Initiated Logout)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import GrantFamily, Session, User
from tests.factories import make_service, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    authorize_params,
    pkce_pair,
    post_token,
    redeem,
    redirect_params,
    register_client,
    server_signed_access_token,
    sign_in,
)

AFTER_LOGOUT = "https://app.example.com/bye"


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(display_name="Grace Hopper", email_verified=True)
    db.session.commit()
    return user


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client(is_first_party=True, post_logout_redirect_uris=[AFTER_LOGOUT])


def sign_in_and_get_tokens(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, scope: str
) -> dict:
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    query = authorize_params(client, challenge, scope=scope)
    code = redirect_params(http.get("/authorize", query_string=query))["code"]
    return redeem(http, client, code, verifier).json


def test_userinfo_returns_the_claims_the_scopes_allow(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid email")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for response in (http.get("/userinfo", headers=bearer), http.post("/userinfo", headers=bearer)):
        assert response.status_code == 200
        assert response.json == {
            "sub": str(person.id),
            "email": person.email,
            "email_verified": True,
        }


def test_userinfo_with_profile_scope_adds_the_name(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid profile")
    response = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.json["name"] == "Grace Hopper" and "email" not in response.json


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer not-a-token", "Basic abc", "Bearer a.b.c"],
    ids=["none", "empty-bearer", "garbage", "wrong-scheme", "fake-jwt"],
)
def test_userinfo_without_a_valid_token_is_401_with_www_authenticate(
    http: FlaskClient, header: str
) -> None:
    response = http.get("/userinfo", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert response.json["error"] in ("invalid_token", "invalid_request")


def test_userinfo_refuses_a_revoked_or_expired_token(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, move_clock
) -> None:  # noqa: ANN001
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid offline_access")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    move_clock(minutes=11)
    assert http.get("/userinfo", headers=bearer).status_code == 401
    move_clock(minutes=-11)
    http.post(
        "/revoke", data={"token": tokens["refresh_token"]}, auth=(client.client_id, client.secret)
    )
    assert http.get("/userinfo", headers=bearer).status_code == 401


def test_userinfo_needs_the_openid_scope(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "email")
    response = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 403 and response.json["error"] == "insufficient_scope"


def test_a_service_token_has_no_userinfo_even_with_openid_in_it(
    http: FlaskClient, app: Flask
) -> None:
    make_service("billing")
    service = register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
    )
    token = server_signed_access_token(app, service.client, "openid services:sync")
    response = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_logout_with_id_token_hint_ends_the_session_and_redirects_with_state(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    response = http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": AFTER_LOGOUT,
            "state": "xyz",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT + "?state=xyz"
    assert db.session.scalar(select(Session)) is None
    family = db.session.scalar(select(GrantFamily))
    db.session.refresh(family)
    assert family.revoked_reason == "logout"

    _, challenge = pkce_pair()
    after = http.get("/authorize", query_string=authorize_params(client, challenge, prompt="none"))
    assert redirect_params(after)["error"] == "login_required"


def test_offline_access_grants_outlive_logout(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid offline_access")
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    refreshed = post_token(
        http, client, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200


def test_an_unregistered_post_logout_uri_is_never_redirected_to(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    response = http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://evil.example.com/",
        },
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert b"signed out" in response.data


def test_logout_without_a_hint_asks_for_confirmation_first(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    sign_in(app, http, person)
    page = http.get("/logout")
    assert page.status_code == 200 and b"Sign out?" in page.data
    assert db.session.scalar(select(Session)) is not None

    forged = http.post("/logout", data={"confirm": "yes"})
    assert b"Sign out?" in forged.data and db.session.scalar(select(Session)) is not None

    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    done = http.post("/logout", data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 200 and b"signed out" in done.data
    assert db.session.scalar(select(Session)) is None


def test_a_forged_id_token_hint_is_an_error_page_without_redirect(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    for hint in ("garbage", tokens["access_token"], tokens["id_token"][:-4] + "AAAA"):
        response = http.get(
            "/logout",
            query_string={
                "id_token_hint": hint,
                "post_logout_redirect_uri": AFTER_LOGOUT,
            },
        )
        assert response.status_code == 400 and "Location" not in response.headers
    assert db.session.scalar(select(Session)) is not None


def test_logout_clears_the_cookie(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    response = http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("authserver_session=;") and "Expires=Thu, 01 Jan 1970" in cookie
    assert urlsplit(response.request.url).path == "/logout"


def test_a_cross_site_post_without_the_cookie_changes_nothing_and_continues_as_a_get(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    params = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": AFTER_LOGOUT,
        "state": "xyz",
    }
    other_site = app.test_client()  # a SameSite=Lax cookie does not come with a cross-site POST
    response = other_site.post("/logout", data=params)
    assert response.status_code == 303 and "Set-Cookie" not in response.headers
    assert db.session.scalar(select(Session)) is not None
    location = urlsplit(response.headers["Location"])
    assert location.path == "/logout"

    # The browser follows with a GET, which carries the cookie, and the logout happens.
    done = http.get(f"{location.path}?{location.query}")
    assert done.headers["Location"] == AFTER_LOGOUT + "?state=xyz"
    assert done.headers["Set-Cookie"].startswith("authserver_session=;")
    assert db.session.scalar(select(Session)) is None


@pytest.mark.parametrize("with_hint", [True, False], ids=["hint", "no-hint"])
def test_logout_without_a_session_ends_nothing_and_leaves_the_cookie_alone(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient, with_hint: bool
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    query = {"post_logout_redirect_uri": AFTER_LOGOUT}
    if with_hint:
        query["id_token_hint"] = tokens["id_token"]
    response = app.test_client().get("/logout", query_string=query)
    assert "Set-Cookie" not in response.headers
    assert db.session.scalar(select(Session)) is not None
    if with_hint:
        assert response.headers["Location"] == AFTER_LOGOUT
    else:
        assert response.status_code == 200 and "Location" not in response.headers


def test_a_hint_naming_another_person_asks_first_and_ends_nothing(
    app: Flask, http: FlaskClient, person: User, client: RegisteredClient
) -> None:
    tokens = sign_in_and_get_tokens(app, http, person, client, "openid")
    someone_else = make_user()
    db.session.commit()
    sign_in(app, http, someone_else)
    response = http.get(
        "/logout",
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": AFTER_LOGOUT,
        },
    )
    assert response.status_code == 200 and b"Sign out?" in response.data
    assert "authserver_session=;" not in response.headers.get("Set-Cookie", "")
    assert "Location" not in response.headers
    assert db.session.scalar(select(Session).where(Session.user_id == someone_else.id))
