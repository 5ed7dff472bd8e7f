"""Every OAuth error we answer at /token, /revoke and /introspect: RFC 6749 §5.2 and RFC 7009
§2.2.1 statuses, and descriptions in words (never a Python list or None)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.oauth_helpers import RegisteredClient, register_client

PYTHON_REPR = re.compile(r"\[|\]|\{|\}|\bNone\b|'\w+', '")
ENDPOINTS = ["/token", "/revoke", "/introspect"]
# RFC 6749 §5.2 (RFC 7009 §2.2.1 and RFC 7662 §2.3 follow it): 400, except invalid_client,
# which is 401 whenever the client tried HTTP Basic (we always answer 401 with a challenge).
STATUS = {"invalid_client": 401}


@pytest.fixture
def clients(app: Flask) -> dict[str, RegisteredClient]:
    return {
        "client_secret_basic": register_client(),
        "client_secret_post": register_client(token_endpoint_auth_method="client_secret_post"),
        "none": register_client(public=True),
    }


def assert_worded(response: TestResponse) -> str:
    body = response.json
    assert response.status_code == STATUS.get(body["error"], 400), (response.status_code, body)
    description = body.get("error_description", "")
    assert not PYTHON_REPR.search(description), description
    return description


def form_for(endpoint: str, client_id: str | None) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": "x"} if endpoint == "/token" else {}
    if endpoint != "/token":
        form["token"] = "x"
    if client_id:
        form["client_id"] = client_id
    return form


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("method", "words"),
    [
        ("client_secret_basic", "HTTP Basic authentication"),
        ("client_secret_post", "client_secret in the request body"),
    ],
)
def test_a_failed_client_authentication_names_the_clients_own_method(
    http: FlaskClient, clients: dict, endpoint: str, method: str, words: str
) -> None:
    client = clients[method]
    response = http.post(endpoint, data=form_for(endpoint, client.client_id))
    description = assert_worded(response)
    assert words in description and method in description
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_request_naming_no_client_says_so(http: FlaskClient, endpoint: str) -> None:
    assert "names no client" in assert_worded(http.post(endpoint, data=form_for(endpoint, None)))


def test_a_public_client_at_introspection_is_told_it_cannot_use_it(
    http: FlaskClient, clients: dict
) -> None:
    response = http.post("/introspect", data=form_for("/introspect", clients["none"].client_id))
    assert "does not accept clients that use its client_id alone" in assert_worded(response)


@pytest.mark.parametrize("endpoint", ["/revoke", "/introspect"])
def test_an_unknown_token_type_hint_is_400(http: FlaskClient, clients: dict, endpoint: str) -> None:
    client = clients["client_secret_basic"]
    response = http.post(
        endpoint,
        data={"token": "x", "token_type_hint": "id_token"},
        auth=(client.client_id, client.secret),
    )
    assert response.json["error"] == "unsupported_token_type"
    assert "token_type_hint" in assert_worded(response)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "form",
    [
        {},
        {"client_id": "no-such-client"},
        {"client_id": "no-such-client", "client_secret": "x"},
        {"grant_type": "password", "token": "x"},
        {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"},
        {"grant_type": "authorization_code", "code": "x", "token": "x", "resource": "nope"},
        {"grant_type": "client_credentials", "scope": "openid", "token": "x"},
        {"grant_type": "authorization_code", "token_type_hint": "nonsense"},
    ],
)
@pytest.mark.parametrize("auth", ["basic", "post", "public", "wrong-secret"])
def test_every_error_has_its_rfc_status_and_a_description_in_words(
    http: FlaskClient, clients: dict, endpoint: str, form: dict, auth: str
) -> None:
    data, kwargs = dict(form), {}
    if auth == "basic":
        client = clients["client_secret_basic"]
        kwargs["auth"] = (client.client_id, client.secret)
    elif auth == "wrong-secret":
        kwargs["auth"] = (clients["client_secret_basic"].client_id, "wrong")
    elif auth == "post":
        client = clients["client_secret_post"]
        data.setdefault("client_id", client.client_id)
        data.setdefault("client_secret", client.secret)
    else:
        data.setdefault("client_id", clients["none"].client_id)
    response = http.post(endpoint, data=data, **kwargs)
    if response.status_code == 200:
        return  # e.g. revoking an unknown token is a success (RFC 7009 §2.2)
    assert_worded(response)
