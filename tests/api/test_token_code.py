"""POST /token with grant_type=authorization_code, played as a client would."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent, AuthorizationCode, GrantFamily
from authserver.oauth.tokens import at_hash
from tests.concurrency import at_once
from tests.factories import make_session, make_user
from tests.oauth_helpers import (
    ISSUER,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    refresh,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture
def person(app: Flask):  # noqa: ANN201
    user = make_user(display_name="Ada Lovelace", email_verified=True)
    db.session.commit()
    return user


def test_code_exchange_gives_verifiable_access_id_and_refresh_tokens(
    http: FlaskClient, person
) -> None:  # noqa: ANN001
    client = register_client()
    session = make_session(person)
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge, nonce="n-0S6_WzA2Mj", session_id=session.id)

    response = redeem(http, client, code, verifier)

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["refresh_token"] and body["scope"] == "openid profile email offline_access"

    access = verify_as_resource_server(http, body["access_token"], client.client_id)
    assert access.header["typ"] == "at+jwt"
    claims = access.claims
    assert claims["sub"] == str(person.id) and claims["client_id"] == client.client_id
    assert {"jti", "iat", "exp", "auth_time", "family_id", "scope"} <= set(claims)

    id_token = verify_as_resource_server(http, body["id_token"], client.client_id).claims
    assert id_token["nonce"] == "n-0S6_WzA2Mj"
    assert id_token["sid"] == str(session.id)
    assert id_token["at_hash"] == at_hash(body["access_token"])
    assert id_token["email"] == person.email and id_token["email_verified"] is True
    assert id_token["name"] == "Ada Lovelace" and id_token["amr"] == ["pwd"]


def test_a_public_client_redeems_with_pkce_and_no_secret(http: FlaskClient, person) -> None:  # noqa: ANN001
    client = register_client(public=True)
    verifier, challenge = pkce_pair()
    response = redeem(http, client, issue_code(client, person, challenge), verifier)
    assert response.status_code == 200, response.json
    verify_as_resource_server(http, response.json["access_token"], client.client_id)


def test_client_secret_post_works_for_a_client_registered_for_it(
    http: FlaskClient,
    person,  # noqa: ANN001
) -> None:
    client = register_client(token_endpoint_auth_method="client_secret_post")
    verifier, challenge = pkce_pair()
    data = {
        "grant_type": "authorization_code",
        "code": issue_code(client, person, challenge),
        "redirect_uri": client.client.redirect_uris[0],
        "code_verifier": verifier,
    }
    assert post_token(http, client, data, auth="post").status_code == 200


def test_without_offline_access_there_is_no_refresh_token(http: FlaskClient, person) -> None:  # noqa: ANN001
    client = register_client()
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge, scope="openid email")
    body = redeem(http, client, code, verifier).json
    assert "refresh_token" not in body and "name" not in _id_claims(http, body, client)


def _id_claims(http: FlaskClient, body: dict, client) -> dict:  # noqa: ANN001
    return verify_as_resource_server(http, body["id_token"], client.client_id).claims


UNSET = object()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": UNSET}, "invalid_request"),
        ({"redirect_uri": "https://app.example.com/other"}, "invalid_grant"),
        ({"redirect_uri": UNSET}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"code": UNSET}, "invalid_request"),
    ],
    ids=[
        "wrong-verifier",
        "missing-verifier",
        "redirect-mismatch",
        "missing-redirect",
        "unknown-code",
        "missing-code",
    ],
)
def test_a_bad_redemption_is_refused(
    http: FlaskClient,
    person,
    change: dict,
    error: str,  # noqa: ANN001
) -> None:
    client = register_client()
    verifier, challenge = pkce_pair()
    data = {
        "grant_type": "authorization_code",
        "code": issue_code(client, person, challenge),
        "redirect_uri": client.client.redirect_uris[0],
        "code_verifier": verifier,
    }
    for name, value in change.items():
        if value is UNSET:
            del data[name]
        else:
            data[name] = value
    response = post_token(http, client, data)
    assert response.status_code == 400
    assert response.json["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def test_an_expired_code_is_refused(http: FlaskClient, person, move_clock) -> None:  # noqa: ANN001
    client = register_client()
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    move_clock(seconds=61)
    response = redeem(http, client, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(http: FlaskClient, person) -> None:  # noqa: ANN001
    owner, thief = register_client(), register_client()
    verifier, challenge = pkce_pair()
    code = issue_code(owner, person, challenge)
    response = redeem(http, thief, code, verifier)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert redeem(http, owner, code, verifier).status_code == 200  # the thief spent nothing


def test_a_replayed_code_fails_and_revokes_what_its_first_use_issued(
    http: FlaskClient,
    person,  # noqa: ANN001
) -> None:
    client = register_client()
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    first = redeem(http, client, code, verifier).json

    replay = redeem(http, client, code, verifier)

    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    family = db.session.scalar(select(GrantFamily))
    db.session.refresh(family)
    assert family.revoked_reason == "code_replay"
    assert refresh(http, client, first["refresh_token"]).json["error"] == "invalid_grant"
    introspected = http.post(
        "/introspect",
        data={"token": first["access_token"]},
        auth=(client.client_id, client.secret),
    )
    assert introspected.json == {"active": False}
    assert db.session.scalar(
        select(AuditEvent).where(AuditEvent.event_type == "token.family_revoked")
    )


def test_the_code_is_stored_only_as_its_hash(http: FlaskClient, person) -> None:  # noqa: ANN001
    client = register_client()
    _, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    stored = db.session.scalar(select(AuthorizationCode))
    assert code not in (stored.code_hash, stored.redirect_uri, stored.code_challenge)


@pytest.mark.parametrize(
    "auth",
    [
        lambda c: {
            "Authorization": "Basic " + base64.b64encode(f"{c.client_id}:wrong".encode()).decode()
        },
        lambda c: {"Authorization": "Basic !!!not-base64"},
        lambda c: {"Authorization": "Bearer something"},
        lambda c: {},
    ],
    ids=["wrong-secret", "malformed-basic", "wrong-scheme", "none"],
)
def test_a_confidential_client_must_authenticate(
    http: FlaskClient,
    person,
    auth,  # noqa: ANN001
) -> None:
    client = register_client()
    verifier, challenge = pkce_pair()
    data = {
        "grant_type": "authorization_code",
        "code": issue_code(client, person, challenge),
        "redirect_uri": client.client.redirect_uris[0],
        "code_verifier": verifier,
        "client_id": client.client_id,
    }
    response = http.post("/token", data=data, headers=auth(client))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_the_issuer_in_tokens_is_the_configured_one(http: FlaskClient, person) -> None:  # noqa: ANN001
    client = register_client()
    verifier, challenge = pkce_pair()
    body = redeem(http, client, issue_code(client, person, challenge), verifier).json
    assert (
        verify_as_resource_server(http, body["id_token"], client.client_id).claims["iss"] == ISSUER
    )


def test_concurrent_redemptions_of_one_code_let_exactly_one_succeed(
    app: Flask,
    person,  # noqa: ANN001
) -> None:
    """PostgreSQL's row lock, SQLite's write lock (store.py): the others wait, then see a
    replay."""

    client = register_client()
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.client.redirect_uris[0],
        "code_verifier": verifier,
    }
    auth = (client.client_id, client.secret)

    def call() -> int:
        return app.test_client().post("/token", data=form, auth=auth).status_code

    statuses = at_once([call] * 5)
    assert sorted(statuses) == [200, 400, 400, 400, 400]
    db.session.expire_all()
    assert db.session.scalar(select(GrantFamily)).revoked_reason == "code_replay"
