"""POST /token with grant_type=client_credentials: service clients only, nothing written."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from authserver.extensions import db
from tests.factories import make_service
from tests.oauth_helpers import post_token, register_client, verify_as_resource_server


@pytest.fixture
def service_client(app: Flask):  # noqa: ANN201
    make_service("billing")
    return register_client(
        service_name="billing",
        grant_types=["client_credentials"],
        scopes=["services:sync"],
        redirect_uris=[],
    )


def test_a_service_client_gets_an_access_token_and_nothing_else(
    http: FlaskClient,
    service_client,  # noqa: ANN001
) -> None:
    response = post_token(http, service_client, {"grant_type": "client_credentials"})
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["scope"] == "services:sync"
    # Its audience is our own API, where it pushes its manifest (README "API audience").
    claims = verify_as_resource_server(http, body["access_token"], "auth").claims
    assert claims["sub"] == service_client.client_id == claims["client_id"]
    assert claims["sub_kind"] == "service"
    assert "family_id" not in claims


def test_client_credentials_writes_nothing(
    app: Flask,
    http: FlaskClient,
    service_client,  # noqa: ANN001
) -> None:
    writes: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert (
            post_token(http, service_client, {"grant_type": "client_credentials"}).status_code
            == 200
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert writes == []


@pytest.mark.parametrize(
    ("resource", "expected"),
    [("auth", 200), ("billing", "invalid_target"), ("no-such-service", "invalid_target")],
)
def test_a_service_token_names_only_our_api_as_its_resource(
    http: FlaskClient,
    service_client,  # noqa: ANN001
    resource: str,
    expected: int | str,
) -> None:
    """RFC 8707 §2: a resource the token cannot be for is refused, never ignored."""
    response = post_token(
        http, service_client, {"grant_type": "client_credentials", "resource": resource}
    )
    if expected == 200:
        assert response.status_code == 200, response.json
        claims = verify_as_resource_server(http, response.json["access_token"], "auth").claims
        assert claims["aud"] == "auth"
    else:
        assert response.status_code == 400 and response.json["error"] == expected


def test_an_unknown_scope_is_refused(http: FlaskClient, service_client) -> None:  # noqa: ANN001
    response = post_token(
        http, service_client, {"grant_type": "client_credentials", "scope": "admin"}
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_a_client_without_the_grant_is_refused(http: FlaskClient, app: Flask) -> None:
    web = register_client()
    response = post_token(http, web, {"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_public_client_cannot_use_client_credentials(http: FlaskClient, app: Flask) -> None:
    public = register_client(public=True)
    response = post_token(http, public, {"grant_type": "client_credentials"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("data", "error", "status"),
    [
        (
            {"grant_type": "password", "username": "a", "password": "b"},
            "unsupported_grant_type",
            400,
        ),
        ({"grant_type": "implicit"}, "unsupported_grant_type", 400),
        ({}, "invalid_request", 400),
    ],
    ids=["password", "implicit", "no-grant-type"],
)
def test_unsupported_grants_get_the_rfc_error(
    http: FlaskClient,
    service_client,
    data: dict,
    error: str,
    status: int,  # noqa: ANN001
) -> None:
    response = post_token(http, service_client, data)
    assert response.status_code == status and response.json["error"] == error
