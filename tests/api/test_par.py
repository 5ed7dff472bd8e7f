"""Pushed Authorization Requests (RFC 9126), played step by step as a client would:
push to /par with client authentication, then send the person to /authorize with only
client_id and request_uri."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import PushedAuthorizationRequest, User
from authserver.oidc.discovery import build_metadata
from tests.concurrency import at_once
from tests.factories import make_user
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    authorize_params,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    sign_in,
)

PREFIX = "urn:ietf:params:oauth:request_uri:"


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


@pytest.fixture
def web_app(app: Flask) -> RegisteredClient:
    return register_client(is_first_party=True)


def basic(registered: RegisteredClient) -> dict[str, str]:
    raw = f"{registered.client_id}:{registered.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def push(http: FlaskClient, registered: RegisteredClient, params: dict[str, str], **kw):  # noqa: ANN003, ANN201
    headers = basic(registered) if registered.secret else {}
    if not registered.secret:
        params = {**params, "client_id": registered.client_id}
    return http.post("/par", data=params, headers=headers, **kw)


def pushed_params(registered: RegisteredClient, challenge: str, **over: str) -> dict[str, str]:
    params = authorize_params(registered, challenge, **over)
    params.pop("client_id")  # RFC 9126 §2.1: the authenticated client is the client
    return params


def authorize_with(http: FlaskClient, client_id: str, request_uri: str):  # noqa: ANN201
    return http.get("/authorize", query_string={"client_id": client_id, "request_uri": request_uri})


def test_a_pushed_request_answers_201_with_a_single_use_request_uri(
    http: FlaskClient, web_app: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    response = push(http, web_app, pushed_params(web_app, challenge))
    assert response.status_code == 201, response.json
    assert response.json["request_uri"].startswith(PREFIX)
    assert response.json["expires_in"] == 60
    assert response.headers["Cache-Control"] == "no-store"
    stored = db.session.scalar(select(PushedAuthorizationRequest))
    assert stored.request_uri_hash == sha256_hex(response.json["request_uri"])


def test_the_pushed_request_signs_in_and_its_code_redeems(
    app: Flask, http: FlaskClient, web_app: RegisteredClient, person: User
) -> None:
    verifier, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    sign_in(app, http, person)
    params = redirect_params(authorize_with(http, web_app.client_id, request_uri))
    assert params["state"] == "af0ifjsldkj" and params["iss"] == ISSUER
    tokens = redeem(http, web_app, params["code"], verifier)
    assert tokens.status_code == 200 and tokens.json["id_token"]


def test_without_a_session_the_pushed_request_is_parked_for_sign_in(
    http: FlaskClient, web_app: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    response = authorize_with(http, web_app.client_id, request_uri)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/sign-in"


def test_a_request_uri_is_refused_the_second_time(
    app: Flask, http: FlaskClient, web_app: RegisteredClient, person: User
) -> None:
    _, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    sign_in(app, http, person)
    assert authorize_with(http, web_app.client_id, request_uri).status_code == 302
    again = authorize_with(http, web_app.client_id, request_uri)
    assert again.status_code == 400 and b"invalid_request_uri" in again.data


def test_an_expired_request_uri_is_refused(
    app: Flask,
    http: FlaskClient,
    web_app: RegisteredClient,
    person: User,
    move_clock: Callable[..., None],
) -> None:
    _, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    sign_in(app, http, person)
    move_clock(seconds=61)
    refused = authorize_with(http, web_app.client_id, request_uri)
    assert refused.status_code == 400 and b"invalid_request_uri" in refused.data


def test_another_clients_request_uri_is_refused_and_stays_usable_by_its_client(
    app: Flask, http: FlaskClient, web_app: RegisteredClient, person: User
) -> None:
    other = register_client(is_first_party=True)
    _, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    sign_in(app, http, person)
    refused = authorize_with(http, other.client_id, request_uri)
    assert refused.status_code == 400 and "Location" not in refused.headers
    assert authorize_with(http, web_app.client_id, request_uri).status_code == 302


def test_an_unknown_request_uri_is_refused(http: FlaskClient, web_app: RegisteredClient) -> None:
    refused = authorize_with(http, web_app.client_id, PREFIX + "made-up")
    assert refused.status_code == 400 and "Location" not in refused.headers


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": "openid services:sync"}, "invalid_scope"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "١٢"}, "invalid_request"),
        ({"resource": "unknown-service"}, "invalid_target"),
        ({"request_uri": PREFIX + "x"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
        ({"state": "x" * 3000}, "invalid_request"),
    ],
)
def test_a_push_that_authorize_would_refuse_is_refused_as_json(
    http: FlaskClient, web_app: RegisteredClient, over: dict[str, str], error: str
) -> None:
    _, challenge = pkce_pair()
    response = push(http, web_app, pushed_params(web_app, challenge, **over))
    assert response.status_code == 400, response.data
    assert response.json["error"] == error and "Location" not in response.headers
    assert db.session.scalar(select(PushedAuthorizationRequest)) is None


def test_a_push_with_two_resources_is_invalid_target(
    http: FlaskClient, web_app: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    params = pushed_params(web_app, challenge)
    body = "&".join(f"{k}={v}" for k, v in params.items()) + "&resource=a&resource=b"
    response = http.post(
        "/par", data=body, headers=basic(web_app), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400 and response.json["error"] == "invalid_target"


def test_a_push_without_client_authentication_is_invalid_client(
    http: FlaskClient, web_app: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    params = {**pushed_params(web_app, challenge), "client_id": web_app.client_id}
    response = http.post("/par", data=params)
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_push_naming_another_client_id_is_refused(
    http: FlaskClient, web_app: RegisteredClient
) -> None:
    other = register_client()
    _, challenge = pkce_pair()
    params = {**pushed_params(web_app, challenge), "client_id": other.client_id}
    response = http.post("/par", data=params, headers=basic(web_app))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_a_public_client_pushes_with_its_client_id(http: FlaskClient) -> None:
    spa = register_client(public=True)
    _, challenge = pkce_pair()
    assert push(http, spa, pushed_params(spa, challenge)).status_code == 201


@pytest.mark.parametrize("body", ["{}", "not a form"])
def test_a_push_that_is_not_a_form_is_a_json_error(
    http: FlaskClient, web_app: RegisteredClient, body: str
) -> None:
    response = http.post("/par", data=body, headers=basic(web_app), content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_a_client_that_requires_par_is_refused_at_authorize_without_it(
    app: Flask, http: FlaskClient, person: User
) -> None:
    strict = register_client(is_first_party=True, require_pushed_authorization_requests=True)
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    refused = redirect_params(
        http.get("/authorize", query_string=authorize_params(strict, challenge))
    )
    assert refused["error"] == "invalid_request"
    request_uri = push(http, strict, pushed_params(strict, challenge)).json["request_uri"]
    assert "code" in redirect_params(authorize_with(http, strict.client_id, request_uri))


@pytest.fixture
def server_requires_par(app: Flask) -> Iterator[None]:
    original = app.extensions["authserver.settings"]
    app.extensions["authserver.settings"] = dataclasses.replace(
        original, require_pushed_authorization_requests=True
    )
    yield
    app.extensions["authserver.settings"] = original


def test_a_server_that_requires_par_refuses_every_plain_authorize_and_says_so(
    app: Flask,
    http: FlaskClient,
    web_app: RegisteredClient,
    person: User,
    server_requires_par: None,
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    response = http.get("/authorize", query_string=authorize_params(web_app, challenge))
    assert redirect_params(response)["error"] == "invalid_request"
    metadata = build_metadata(app, app.extensions["authserver.settings"])
    assert metadata["require_pushed_authorization_requests"] is True


def test_discovery_advertises_par(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/oauth-authorization-server").json
    assert metadata["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert metadata["require_pushed_authorization_requests"] is False


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; a concurrent use is a PostgreSQL guarantee")


def test_concurrent_uses_of_one_request_uri_let_exactly_one_through(
    app: Flask, web_app: RegisteredClient, person: User, postgres_only: None
) -> None:
    http = app.test_client()
    _, challenge = pkce_pair()
    request_uri = push(http, web_app, pushed_params(web_app, challenge)).json["request_uri"]
    client_id, callers = web_app.client_id, 5

    def call() -> int:
        return authorize_with(app.test_client(), client_id, request_uri).status_code

    statuses = at_once([call] * callers)
    assert sorted(statuses) == [302] + [400] * (callers - 1)
