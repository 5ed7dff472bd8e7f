"""Every OAuth parameter is bounded in size, and every scope taken from a request is stored
and answered in one canonical form: no request can grow a token or a response."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import AuthorizationCode, GrantFamily
from authserver.oauth.parameters import MAX_PARAMETER_LENGTH, MAX_TOKEN_LENGTH
from tests.factories import make_service, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    authorize_params,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    redirect_params,
    register_client,
    sign_in,
)

TOO_LONG = "x" * (MAX_PARAMETER_LENGTH + 1)


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def first_tokens(http: FlaskClient, client: RegisteredClient) -> dict:
    person = make_user()
    db.session.commit()
    verifier, challenge = pkce_pair()
    response = redeem(http, client, issue_code(client, person, challenge), verifier)
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("grant_type", TOO_LONG),
        ("scope", "openid " * 120_000),
        ("client_id", TOO_LONG),
        ("redirect_uri", TOO_LONG),
        ("code_verifier", TOO_LONG),
        ("token_type_hint", TOO_LONG),
        ("an_unknown_parameter", TOO_LONG),
        ("n" * (MAX_PARAMETER_LENGTH + 1), "1"),
        ("token", "x" * (MAX_TOKEN_LENGTH + 1)),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else v,
)
def test_every_parameter_past_its_bound_is_invalid_request(
    http: FlaskClient, client: RegisteredClient, path: str, name: str, value: str
) -> None:
    data = {"grant_type": "client_credentials", "token": "t", name: value}
    response = http.post(path, data=data, headers=_basic(client))
    assert (response.status_code, response.json["error"]) == (400, "invalid_request")
    assert len(response.data) < 300


def test_a_token_of_ours_fits_its_bound_at_introspection(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    response = http.post(
        "/introspect", data={"token": first_tokens["access_token"]}, headers=_basic(client)
    )
    assert response.status_code == 200 and response.json["active"] is True


def test_a_repeated_scope_at_refresh_answers_it_once(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    response = post_token(
        http,
        client,
        {
            "grant_type": "refresh_token",
            "refresh_token": first_tokens["refresh_token"],
            "scope": "openid " * 290,  # just under the bound
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "openid"
    assert len(response.data) < 4096


def test_a_refresh_may_only_narrow_the_scope_and_the_family_keeps_it(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    """RFC 6749 §6: a narrower scope is for this response; the next refresh without one
    gets what was granted."""
    data = {"grant_type": "refresh_token", "refresh_token": first_tokens["refresh_token"]}
    wider = post_token(http, client, {**data, "scope": "openid offline_access orgs"})
    assert wider.json["error"] == "invalid_scope"
    narrowed = post_token(http, client, {**data, "scope": "email email openid"})
    assert narrowed.json["scope"] == "openid email"
    again = post_token(http, client, {**data, "refresh_token": narrowed.json["refresh_token"]})
    assert again.json["scope"] == first_tokens["scope"] == "openid profile email offline_access"


def test_a_client_credentials_scope_is_answered_once(http: FlaskClient, app: Flask) -> None:
    make_service("billing")
    service = register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
    )
    response = post_token(
        http, service, {"grant_type": "client_credentials", "scope": "services:sync " * 100}
    )
    assert response.status_code == 200, response.json
    assert response.json["scope"] == "services:sync"


def test_authorize_stores_the_scope_in_its_canonical_form(app: Flask, http: FlaskClient) -> None:
    client = register_client(is_first_party=True)
    sign_in(app, http, make_user())
    db.session.commit()
    verifier, challenge = pkce_pair()
    query = authorize_params(client, challenge, scope="email openid email profile openid")
    code = redirect_params(http.get("/authorize", query_string=query))["code"]
    assert db.session.scalar(db.select(AuthorizationCode.scope)) == "openid profile email"
    tokens = redeem(http, client, code, verifier).json
    assert tokens["scope"] == "openid profile email"
    assert db.session.scalar(db.select(GrantFamily.scope)) == "openid profile email"


def test_an_oversized_authorize_parameter_goes_back_as_invalid_request(
    app: Flask, http: FlaskClient
) -> None:
    client = register_client(is_first_party=True)
    sign_in(app, http, make_user())
    db.session.commit()
    _, challenge = pkce_pair()
    query = authorize_params(client, challenge, nonce=TOO_LONG)
    assert redirect_params(http.get("/authorize", query_string=query))["error"] == "invalid_request"


def _basic(client: RegisteredClient) -> dict[str, str]:
    import base64

    raw = f"{client.client_id}:{client.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize("name", ["state", "client_id", "post_logout_redirect_uri"])
def test_an_oversized_logout_parameter_is_the_error_page(
    app: Flask, http: FlaskClient, name: str
) -> None:
    sign_in(app, http, make_user())
    db.session.commit()
    response = http.get("/logout", query_string={name: TOO_LONG})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert b"This sign-out link is not valid" in response.data
