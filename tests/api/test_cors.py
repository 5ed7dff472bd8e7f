"""CORS at /token, /revoke and /userinfo: the origins of the client's own redirect URIs,
nothing else, never with credentials, preflight answered; /introspect has none."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import User
from authserver.oauth.cors import origin_of
from tests.factories import make_user
from tests.oauth_helpers import RegisteredClient, issue_code, pkce_pair, register_client

SPA = "https://spa.example.com"
OTHER_APP = "https://other.example.com:8443"
EVIL = "https://evil.example.com"


@pytest.fixture
def spa(app: Flask) -> RegisteredClient:
    return register_client(public=True, redirect_uris=[SPA + "/callback", "com.example.app:/cb"])


@pytest.fixture
def other_app(app: Flask) -> RegisteredClient:
    return register_client(public=True, redirect_uris=[OTHER_APP + "/callback"])


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def redeem_from(
    http: FlaskClient, client: RegisteredClient, person: User, origin: str
) -> tuple[dict, object]:
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.client.redirect_uris[0],
        "code_verifier": verifier,
        "client_id": client.client_id,
    }
    response = http.post("/token", data=form, headers={"Origin": origin})
    return response.json, response


@pytest.mark.parametrize(
    ("uri", "origin"),
    [
        ("https://spa.example.com/callback", "https://spa.example.com"),
        ("https://SPA.example.com:443/cb?x=1", "https://spa.example.com"),
        ("http://127.0.0.1:5173/cb", "http://127.0.0.1:5173"),
        ("http://localhost:80/cb", "http://localhost"),
        ("http://[::1]:8080/cb", "http://[::1]:8080"),
        ("com.example.app:/callback", None),
        ("https://host:99999/cb", None),
        ("https:///nohost", None),
    ],
)
def test_the_origin_of_a_redirect_uri_is_what_a_browser_sends(uri: str, origin: str | None) -> None:
    assert origin_of(uri) == origin


def test_a_spa_redeems_its_code_from_its_own_origin(
    http: FlaskClient, spa: RegisteredClient, person: User
) -> None:
    body, response = redeem_from(http, spa, person, SPA)
    assert response.status_code == 200 and body["access_token"]
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("origin", [EVIL, OTHER_APP, "null", SPA + ":443", SPA.upper()])
def test_no_other_origin_may_read_a_clients_tokens(
    http: FlaskClient, spa: RegisteredClient, other_app: RegisteredClient, person: User, origin
) -> None:  # noqa: ANN001
    _, response = redeem_from(http, spa, person, origin)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


def test_an_error_for_a_client_reaches_only_that_clients_origin(
    http: FlaskClient, spa: RegisteredClient, other_app: RegisteredClient
) -> None:
    form = {"grant_type": "authorization_code", "code": "x", "client_id": spa.client_id}
    own = http.post("/token", data=form, headers={"Origin": SPA})
    assert own.status_code == 400 and own.headers["Access-Control-Allow-Origin"] == SPA
    other = http.post("/token", data=form, headers={"Origin": OTHER_APP})
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/token", "POST"), ("/revoke", "POST"), ("/userinfo", "GET, POST")],
)
def test_a_preflight_from_a_registered_origin_is_answered(
    http: FlaskClient, spa: RegisteredClient, path: str, methods: str
) -> None:
    response = http.options(
        path,
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 204 and response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert response.headers["Access-Control-Allow-Methods"] == methods
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "DPoP" in response.headers["Access-Control-Allow-Headers"]  # RFC 9449 proofs
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("path", ["/token", "/revoke", "/userinfo"])
def test_a_preflight_from_an_unregistered_origin_is_not_allowed(
    http: FlaskClient, spa: RegisteredClient, path: str
) -> None:
    response = http.options(path, headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_userinfo_and_revoke_answer_the_origin_of_the_tokens_client(
    http: FlaskClient, spa: RegisteredClient, other_app: RegisteredClient, person: User
) -> None:
    tokens, _ = redeem_from(http, spa, person, SPA)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = http.get("/userinfo", headers={**bearer, "Origin": SPA})
    assert info.status_code == 200 and info.headers["Access-Control-Allow-Origin"] == SPA
    elsewhere = http.get("/userinfo", headers={**bearer, "Origin": OTHER_APP})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    expired = http.get("/userinfo", headers={"Authorization": "Bearer x.y.z", "Origin": SPA})
    assert expired.status_code == 401 and expired.headers["Access-Control-Allow-Origin"] == SPA
    assert "WWW-Authenticate" in expired.headers["Access-Control-Expose-Headers"]

    form = {"token": tokens["refresh_token"], "client_id": spa.client_id}
    revoked = http.post("/revoke", data=form, headers={"Origin": SPA})
    assert revoked.status_code == 200 and revoked.headers["Access-Control-Allow-Origin"] == SPA


def test_introspection_is_not_for_browsers(http: FlaskClient, spa: RegisteredClient) -> None:
    assert (
        "Access-Control-Allow-Origin"
        not in http.post("/introspect", data={"token": "x"}, headers={"Origin": SPA}).headers
    )
    assert (
        "Access-Control-Allow-Origin"
        not in http.options(
            "/introspect", headers={"Origin": SPA, "Access-Control-Request-Method": "POST"}
        ).headers
    )


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks.json"])
def test_discovery_and_the_jwks_are_readable_by_every_origin(http: FlaskClient, path: str) -> None:
    response = http.get(path, headers={"Origin": EVIL})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
