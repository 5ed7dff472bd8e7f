"""Bad input at /token, /revoke and /introspect: the RFC's JSON error, never a 500."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.oauth_helpers import RegisteredClient, register_client


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


def basic(client: RegisteredClient) -> dict[str, str]:
    raw = f"{client.client_id}:{client.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def assert_oauth_error(response, status: int | tuple[int, ...] = 400) -> None:  # noqa: ANN001
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.data[:300])
    assert response.mimetype == "application/json"
    assert isinstance(response.json.get("error"), str)
    assert response.headers.get("Cache-Control") == "no-store"


def test_repeated_parameters_are_invalid_request(http: FlaskClient, client) -> None:  # noqa: ANN001
    body = "grant_type=refresh_token&refresh_token=a&refresh_token=b"
    response = http.post(
        "/token",
        data=body,
        headers={**basic(client), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response)
    assert response.json["error"] == "invalid_request"


def test_an_oversized_body_is_refused_in_json(http: FlaskClient, client) -> None:  # noqa: ANN001
    response = http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x" * (2 * 1024 * 1024)},
        headers=basic(client),
    )
    assert_oauth_error(response, 413)


@pytest.mark.parametrize(("length", "error"), [(2048, "invalid_grant"), (2049, "invalid_request")])
def test_a_value_past_the_size_bound_is_invalid_request(
    http: FlaskClient,
    client,  # noqa: ANN001
    length: int,
    error: str,
) -> None:
    response = http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": "x" * length},
        headers=basic(client),
    )
    assert_oauth_error(response)
    assert response.json["error"] == error


def test_invalid_utf8_is_invalid_request(http: FlaskClient, client) -> None:  # noqa: ANN001
    response = http.post(
        "/token",
        data=b"grant_type=refresh_token&refresh_token=%ff%fe%fd",
        headers={**basic(client), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data"])
def test_a_wrong_content_type_is_an_oauth_error(
    http: FlaskClient,
    client,
    content_type: str,  # noqa: ANN001
) -> None:
    response = http.post(
        "/token",
        data='{"grant_type": "client_credentials"}',
        headers={**basic(client), "Content-Type": content_type},
    )
    assert_oauth_error(response)


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic %%%",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),
        "Digest abc",
        "Bearer",
    ],
)
def test_a_malformed_authorization_header_is_invalid_client(
    http: FlaskClient,
    client,
    header: str,  # noqa: ANN001
) -> None:
    response = http.post(
        "/token", data={"grant_type": "client_credentials"}, headers={"Authorization": header}
    )
    assert_oauth_error(response, (400, 401))
    assert response.json["error"] in ("invalid_client", "invalid_request")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("endpoint", ["/token", "/revoke", "/introspect"])
def test_other_methods_are_405_without_a_traceback(
    http: FlaskClient, endpoint: str, method: str
) -> None:
    response = http.open(endpoint, method=method)
    assert response.status_code == 405 and b"Traceback" not in response.data
