"""What the property-based tests found, pinned as plain regression tests: each was a 500
or an accepted request that RFC 6749 says to refuse."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from authserver.security import refuse_unstorable_text
from tests.factories import make_service
from tests.oauth_helpers import RegisteredClient, register_client


@pytest.fixture
def service(app: Flask) -> RegisteredClient:
    make_service("billing")
    return register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
    )


def basic(value: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({"Authorization": "Basic Zm9vOmJhcg€"}, 401, "invalid_client"),  # not ASCII
        ({"Authorization": " "}, 401, "invalid_client"),  # blank
        ({"Authorization": "0 "}, 401, "invalid_client"),  # one word and a space
        (basic("nul\x00:secret"), 401, "invalid_client"),
    ],
    ids=["non-ascii-basic", "blank-authorization", "word-and-space", "nul-in-client-id"],
)
def test_malformed_credentials_are_invalid_client(
    http: FlaskClient, headers: dict, status: int, error: str
) -> None:
    response = http.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert (response.status_code, response.json["error"]) == (status, error)


def test_basic_credentials_and_a_body_secret_are_two_methods(
    http: FlaskClient, service: RegisteredClient
) -> None:
    form = {"grant_type": "client_credentials", "client_secret": ""}
    response = http.post(
        "/token", data=form, headers=basic(f"{service.client_id}:{service.secret}")
    )
    assert (response.status_code, response.json["error"]) == (400, "invalid_request")


def test_a_body_client_id_must_match_the_basic_credentials(
    http: FlaskClient, service: RegisteredClient
) -> None:
    form = {"grant_type": "client_credentials", "client_id": "someone-else"}
    response = http.post(
        "/token", data=form, headers=basic(f"{service.client_id}:{service.secret}")
    )
    assert (response.status_code, response.json["error"]) == (401, "invalid_client")
    form["client_id"] = service.client_id  # the same client, said twice: allowed (§3.2.1)
    same = http.post("/token", data=form, headers=basic(f"{service.client_id}:{service.secret}"))
    assert same.status_code == 200


def test_a_repeated_parameter_with_a_quote_in_its_name_is_invalid_request(
    http: FlaskClient,
) -> None:
    response = http.post("/token", data=MultiDict([('a"b', "1"), ('a"b', "2")]))
    assert (response.status_code, response.json["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("response_type", ['code"', "code\\", "cödé"])
def test_a_response_type_authlib_cannot_echo_is_a_page_not_a_500(
    http: FlaskClient, response_type: str
) -> None:
    response = http.get("/authorize", query_string={"response_type": response_type})
    assert response.status_code == 400 and response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "mimetype"),
    [
        ("GET", "/authorize", {"query_string": {"client_id": "a\x00b"}}, "text/html"),
        ("POST", "/token", {"data": {"grant_type": "x", "client_id": "a\x00"}}, "application/json"),
        ("POST", "/api/v1/orgs", {"json": {"name": "a\x00"}}, "application/problem+json"),
    ],
    ids=["authorize", "token", "api"],
)
def test_a_nul_character_is_refused_in_the_endpoints_format(
    http: FlaskClient, method: str, path: str, kwargs: dict, mimetype: str
) -> None:
    response = http.open(path, method=method, **kwargs)
    assert response.status_code == 400 and response.mimetype == mimetype


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("GET", {"query_string": "resource=https://a.example&resource=b%00"}),
        ("POST", {"data": "name=a&name=b%00"}),
    ],
    ids=["query", "form"],
)
def test_a_nul_character_in_a_repeated_parameter_is_refused_too(
    app: Flask, method: str, kwargs: dict
) -> None:
    if method == "POST":
        kwargs["content_type"] = "application/x-www-form-urlencoded"
    with app.test_request_context("/anywhere", method=method, **kwargs):
        with pytest.raises(BadRequest):
            refuse_unstorable_text()


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_json_is_never_a_500(http: FlaskClient, depth: int) -> None:
    body = "[" * depth + "]" * depth
    response = http.post(
        "/api/v1/orgs",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    assert response.status_code in (400, 401)
    assert response.mimetype == "application/problem+json"
