"""POST /revoke (RFC 7009) and POST /introspect (RFC 7662)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import keys
from authserver.extensions import db
from tests.factories import make_service, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    refresh,
    register_client,
)


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def tokens(http: FlaskClient, client: RegisteredClient) -> dict:
    person = make_user()
    db.session.commit()
    verifier, challenge = pkce_pair()
    return redeem(http, client, issue_code(client, person, challenge), verifier).json


def introspect(http: FlaskClient, caller: RegisteredClient, token: str, **extra: str) -> dict:
    response = http.post(
        "/introspect", data={"token": token, **extra}, auth=(caller.client_id, caller.secret)
    )
    assert response.status_code == 200, response.json
    return response.json


def revoke(http: FlaskClient, caller: RegisteredClient, token: str, **extra: str):  # noqa: ANN201
    return http.post(
        "/revoke", data={"token": token, **extra}, auth=(caller.client_id, caller.secret)
    )


def test_introspection_reports_an_active_access_token(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    result = introspect(http, client, tokens["access_token"])
    assert result["active"] is True
    assert result["client_id"] == client.client_id and result["token_type"] == "Bearer"
    assert result["scope"] == "openid profile email offline_access"


def test_introspection_reports_an_active_refresh_token(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    result = introspect(http, client, tokens["refresh_token"], token_type_hint="refresh_token")
    assert result["active"] is True and result["token_type"] == "refresh_token"


def test_revoking_a_refresh_token_revokes_its_family_and_access_tokens(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    response = revoke(http, client, tokens["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert introspect(http, client, tokens["access_token"]) == {"active": False}
    assert introspect(http, client, tokens["refresh_token"]) == {"active": False}
    assert refresh(http, client, tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_revoking_an_access_token_revokes_its_family(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    assert revoke(http, client, tokens["access_token"]).status_code == 200
    assert introspect(http, client, tokens["refresh_token"]) == {"active": False}


def test_a_token_checked_once_still_shows_its_revocation_at_once(
    http: FlaskClient, client: RegisteredClient, tokens: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker remembers the access token's signature (authserver/keys.py), not its
    state: the family is read for every introspection."""
    checked: list[str] = []
    real = keys.jwt.decode
    monkeypatch.setattr(
        keys.jwt, "decode", lambda t, *a, **k: checked.append(t) or real(t, *a, **k)
    )
    assert introspect(http, client, tokens["access_token"])["active"] is True
    assert introspect(http, client, tokens["access_token"])["active"] is True
    assert revoke(http, client, tokens["refresh_token"]).status_code == 200
    assert introspect(http, client, tokens["access_token"]) == {"active": False}
    assert checked == [tokens["access_token"]]


def test_revoking_an_unknown_token_answers_200(http: FlaskClient, client: RegisteredClient) -> None:
    assert revoke(http, client, "never-issued").status_code == 200


def test_another_client_cannot_revoke_a_token(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    other = register_client()
    assert revoke(http, other, tokens["refresh_token"]).status_code == 400
    assert introspect(http, client, tokens["refresh_token"])["active"] is True


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_another_client_learns_nothing_from_introspection(
    http: FlaskClient, tokens: dict, kind: str
) -> None:
    other = register_client()
    assert introspect(http, other, tokens[kind]) == {"active": False}


def test_the_service_a_token_is_for_may_introspect_it(http: FlaskClient, app: Flask) -> None:
    make_service("billing")
    billing = register_client(
        service_name="billing",
        grant_types=["client_credentials"],
        scopes=["services:sync"],
        redirect_uris=[],
    )
    token = post_token(http, billing, {"grant_type": "client_credentials"}).json["access_token"]
    assert introspect(http, billing, token)["active"] is True


def test_expired_and_garbage_tokens_are_inactive(
    http: FlaskClient,
    client: RegisteredClient,
    tokens: dict,
    move_clock,  # noqa: ANN001
) -> None:
    assert introspect(http, client, "garbage") == {"active": False}
    assert introspect(http, client, "a.b.c") == {"active": False}
    move_clock(minutes=11)
    assert introspect(http, client, tokens["access_token"]) == {"active": False}


def test_a_rotated_out_refresh_token_is_inactive(
    http: FlaskClient, client: RegisteredClient, tokens: dict
) -> None:
    refresh(http, client, tokens["refresh_token"])
    assert introspect(http, client, tokens["refresh_token"]) == {"active": False}


def test_a_public_client_may_not_introspect(http: FlaskClient, app: Flask, tokens: dict) -> None:
    public = register_client(public=True)
    response = http.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": public.client_id}
    )
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_endpoints_need_client_authentication(
    http: FlaskClient, endpoint: str, tokens: dict
) -> None:
    response = http.post(endpoint, data={"token": tokens["access_token"]})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_a_missing_token_or_bad_hint_is_invalid_request(
    http: FlaskClient, client: RegisteredClient, endpoint: str
) -> None:
    auth = (client.client_id, client.secret)
    assert http.post(endpoint, data={}, auth=auth).json["error"] == "invalid_request"
    bad_hint = http.post(endpoint, data={"token": "x", "token_type_hint": "id_token"}, auth=auth)
    assert bad_hint.json["error"] == "unsupported_token_type"
