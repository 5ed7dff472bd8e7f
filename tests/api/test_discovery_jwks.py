"""Discovery and JWKS as a relying party fetches them."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from authserver.keys import PRIVATE_MEMBERS
from authserver.logs import JsonFormatter


def test_jwks_publishes_public_keys_with_cache_headers(http: FlaskClient) -> None:
    response = http.get("/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert "max-age=300" in response.headers["Cache-Control"]
    assert response.headers["ETag"]
    keys = response.json["keys"]
    assert keys and all(not PRIVATE_MEMBERS & set(key) for key in keys)


def test_jwks_answers_304_to_a_matching_etag(http: FlaskClient) -> None:
    etag = http.get("/jwks.json").headers["ETag"]
    again = http.get("/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = http.get("/jwks.json", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_jwks_follows_a_rotation_without_a_restart(app: Flask, http: FlaskClient) -> None:
    before = http.get("/jwks.json")
    store = app.extensions["authserver.keys"]
    new, _ = store.rotate()
    after = http.get("/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert new.kid in {key["kid"] for key in after.json["keys"]}


def test_a_token_signed_by_the_server_verifies_with_the_published_jwks(
    app: Flask,
    http: FlaskClient,
) -> None:
    token = app.extensions["authserver.keys"].sign({"iss": "http://127.0.0.1:8000"})
    key_set = KeySet.import_key_set(http.get("/jwks.json").json)
    assert jwt.decode(token, key_set, algorithms=["RS256", "ES256"]).claims["iss"]


def test_both_discovery_urls_serve_the_same_document(http: FlaskClient) -> None:
    openid = http.get("/.well-known/openid-configuration")
    oauth = http.get("/.well-known/oauth-authorization-server")
    assert openid.status_code == oauth.status_code == 200
    assert openid.json == oauth.json
    assert openid.json["issuer"] == "http://127.0.0.1:8000"
    assert openid.json["jwks_uri"] == "http://127.0.0.1:8000/jwks.json"
    assert openid.json["response_types_supported"] == ["code"]


def test_discovery_advertises_only_endpoints_that_are_served(app: Flask, http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    issuer = metadata["issuer"]
    endpoints = [v for k, v in metadata.items() if k.endswith("_endpoint") or k == "jwks_uri"]
    assert endpoints
    for url in endpoints:
        path = url.removeprefix(issuer)
        assert http.open(path, method="OPTIONS").status_code != 404, path


def test_discovery_states_exactly_the_supported_protocol(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    assert metadata["token_endpoint"] == "http://127.0.0.1:8000/token"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert "plain" not in metadata["code_challenge_methods_supported"]
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    for name in (
        "authorization",
        "token",
        "userinfo",
        "revocation",
        "introspection",
        "end_session",
        "device_authorization",
        "pushed_authorization_request",
    ):
        assert metadata[f"{name}_endpoint"].startswith("http://127.0.0.1:8000/")


# Discovery and the JWKS are answered in front of Flask (authserver/oidc/published.py): they
# must still behave like every other response.

PUBLISHED = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/jwks.json",
]


@pytest.mark.parametrize("path", PUBLISHED)
def test_published_documents_carry_the_headers_every_response_has(
    http: FlaskClient, path: str
) -> None:
    response = http.get(path, headers={"X-Request-ID": "edge-1"})
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Request-ID"] == "edge-1"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.headers["ETag"].startswith('"')


@pytest.mark.parametrize("path", PUBLISHED)
def test_published_documents_answer_304_to_any_matching_if_none_match(
    http: FlaskClient, path: str
) -> None:
    etag = http.get(path).headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = http.get(path, headers={"If-None-Match": header})
        assert again.status_code == 304 and again.data == b"", header
        assert again.headers["ETag"] == etag
    assert http.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("path", PUBLISHED)
def test_head_of_a_published_document_has_its_headers_and_no_body(
    http: FlaskClient, path: str
) -> None:
    get, head = http.get(path), http.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


@pytest.mark.parametrize("path", PUBLISHED)
def test_other_methods_on_a_published_document_are_refused(http: FlaskClient, path: str) -> None:
    assert http.post(path).status_code == 405


def test_a_published_document_is_logged_like_any_request(http: FlaskClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("authserver.request")
    logger.addHandler(handler)
    try:
        http.get("/jwks.json?ignored=1", headers={"X-Request-ID": "edge-2"})
    finally:
        logger.removeHandler(handler)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/jwks.json", 200)
    assert line["request_id"] == "edge-2" and line["duration_ms"] >= 0


def test_an_unreadable_key_file_makes_the_jwks_503_until_it_is_fixed(
    app: Flask, http: FlaskClient
) -> None:
    broken = app.extensions["authserver.settings"].keys_dir / "copied-badly.json"
    broken.write_text("{not json")
    broken.chmod(0o600)
    try:
        refused = http.get("/jwks.json")
        assert refused.status_code == 503
        assert refused.json["error"] == "temporarily_unavailable"
        assert refused.headers["Retry-After"] and refused.headers["Cache-Control"] == "no-store"
    finally:
        broken.unlink()
    assert http.get("/jwks.json").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/jwks.json"), ("GET", "/api/v1/openapi.json"), ("GET", "/healthz"),
     ("POST", "/token"), ("GET", "/userinfo")],
)  # fmt: skip
def test_answers_that_read_no_cookie_do_not_vary_on_it(
    http: FlaskClient, method: str, path: str
) -> None:
    """A shared cache keeps one copy of them for everyone, not one per cookie."""
    response = http.open(path, method=method)
    assert "cookie" not in response.headers.get("Vary", "").lower(), path


def test_a_page_that_reads_the_cookie_varies_on_it(http: FlaskClient) -> None:
    assert "Cookie" in http.get("/sign-in").headers["Vary"]
