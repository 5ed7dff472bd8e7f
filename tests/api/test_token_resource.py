"""RFC 8707 at POST /token: `resource` is honoured for the code exchange and every refresh,
within the grant's own resources, and anything else is invalid_target."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from authserver.extensions import db
from authserver.models import User
from tests.factories import make_user
from tests.oauth_helpers import (
    RegisteredClient,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    refresh,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def billing_code(client: RegisteredClient, person: User) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    return issue_code(client, person, challenge, resources=["billing"]), verifier


def audience(http: FlaskClient, token: str) -> str:
    return verify_as_resource_server(http, token, "billing").claims["aud"]


@pytest.mark.parametrize("extra", [{}, {"resource": "billing"}], ids=["omitted", "the-granted"])
def test_a_code_for_a_service_redeems_for_that_service(
    http: FlaskClient, client: RegisteredClient, person: User, extra: dict
) -> None:
    code, verifier = billing_code(client, person)
    response = redeem(http, client, code, verifier, **extra)
    assert response.status_code == 200, response.json
    assert audience(http, response.json["access_token"]) == "billing"


@pytest.mark.parametrize("resource", ["no-such-service", "crm", "", "billing "])
def test_a_code_redeemed_for_another_resource_is_invalid_target(
    http: FlaskClient, client: RegisteredClient, person: User, resource: str
) -> None:
    code, verifier = billing_code(client, person)
    response = redeem(http, client, code, verifier, resource=resource)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_target"
    # The client's mistake does not burn the code.
    assert redeem(http, client, code, verifier).status_code == 200


def test_a_code_without_a_resource_cannot_be_redeemed_for_one(
    http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge)
    response = redeem(http, client, code, verifier, resource="billing")
    assert (response.status_code, response.json["error"]) == (400, "invalid_target")


def test_two_resources_at_once_are_invalid_target(
    http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    code, verifier = billing_code(client, person)
    form = MultiDict(
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.client.redirect_uris[0]),
            ("code_verifier", verifier),
            ("resource", "billing"),
            ("resource", "billing"),
        ]
    )
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    response = http.post("/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert (response.status_code, response.json["error"]) == (400, "invalid_target")


def test_a_refresh_may_name_the_grants_resource(
    http: FlaskClient, client: RegisteredClient, person: User
) -> None:
    code, verifier = billing_code(client, person)
    tokens = redeem(http, client, code, verifier).json
    response = post_token(
        http,
        client,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "resource": "billing",
        },
    )
    assert response.status_code == 200, response.json
    assert audience(http, response.json["access_token"]) == "billing"


@pytest.mark.parametrize("granted", [["billing"], []], ids=["for-billing", "for-the-client"])
def test_a_refresh_for_a_resource_outside_the_grant_is_refused_and_rotates_nothing(
    http: FlaskClient, client: RegisteredClient, person: User, granted: list[str]
) -> None:
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge, resources=granted)
    tokens = redeem(http, client, code, verifier).json
    response = post_token(
        http,
        client,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "resource": "crm",
        },
    )
    assert (response.status_code, response.json["error"]) == (400, "invalid_target")
    assert refresh(http, client, tokens["refresh_token"]).status_code == 200
