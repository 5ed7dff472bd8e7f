"""Each endpoint reads one body type (form-urlencoded for the OAuth endpoints and the hosted
pages, JSON for /api/v1) and refuses the others in its own format; every string of an
accepted body is text we can store (no NUL, no lone surrogate), on both databases."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from authserver.errors import OAUTH_JSON_PATHS
from tests.oauth_helpers import csrf_token_in

# Field names the forms and OAuth endpoints read, so a NUL reaches a query if it can.
FIELDS = ("email", "password", "client_id", "grant_type", "token", "refresh_token", "code",
          "decision", "confirm", "name", "pending")  # fmt: skip
FORM = "application/x-www-form-urlencoded"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def concrete_path(rule: Rule) -> str:
    """A URL for the rule, every variable filled with a well-formed but unknown value."""
    values = {name: str(uuid.uuid4()) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def writable_rules(app: Flask) -> list[tuple[str, str]]:
    return sorted(
        (method, concrete_path(rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in sorted(set(rule.methods or ()) & set(WRITE_METHODS))
    )


def csrf_token(http: FlaskClient) -> str:
    return csrf_token_in(http.get("/sign-in").data)


def assert_refused_in_format(response, path: str, status: int) -> None:  # noqa: ANN001
    """OAuth endpoints: RFC 6749 §5.2 JSON (400); /api/v1: problem+json; pages: HTML."""
    if path in OAUTH_JSON_PATHS:
        assert (response.status_code, response.mimetype) == (400, "application/json")
        assert response.json["error"] == "invalid_request"
    elif path.startswith("/api/"):
        assert (response.status_code, response.mimetype) == (status, "application/problem+json")
    else:
        assert (response.status_code, response.mimetype) == (status, "text/html")


def test_every_write_route_is_enumerated(app: Flask) -> None:
    paths = {path.split("/")[1] for _, path in writable_rules(app)}
    assert {
        "token",
        "revoke",
        "introspect",
        "sign-in",
        "authorize",
        "logout",
        "account",
        "api",
    } <= paths


def test_a_multipart_body_with_a_nul_is_refused_on_every_write_route(
    app: Flask, http: FlaskClient
) -> None:
    form = {"csrf_token": csrf_token(http), **{name: "a\x00b" for name in FIELDS}}
    for method, path in writable_rules(app):
        response = http.open(path, method=method, data=form, content_type="multipart/form-data")
        assert response.status_code < 500, (method, path, response.data[:300])
        assert_refused_in_format(response, path, 415)


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "text/plain", "application/json", "application/xml"]
)
@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect", "/userinfo", "/sign-in"])
def test_a_form_endpoint_refuses_other_body_types(
    http: FlaskClient, path: str, content_type: str
) -> None:
    body = {"csrf_token": csrf_token(http), "client_id": "app", "email": "a@example.com"}
    if content_type == "multipart/form-data":
        response = http.post(path, data=body, content_type=content_type)
    else:
        response = http.post(path, data=str(body), content_type=content_type)
    assert_refused_in_format(response, path, 415)


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]
)
def test_the_api_refuses_a_body_that_is_not_json(http: FlaskClient, content_type: str) -> None:
    response = http.post("/api/v1/orgs", data={"name": "Acme"}, content_type=content_type)
    assert_refused_in_format(response, "/api/v1/orgs", 415)


def test_a_request_without_a_body_type_is_not_refused_for_it(http: FlaskClient) -> None:
    response = http.post("/token")
    assert response.json["error_description"] == "Missing 'grant_type' in request."


def form_routes(app: Flask) -> list[tuple[str, str]]:
    return [(method, path) for method, path in writable_rules(app) if not path.startswith("/api/")]


def test_a_nul_in_a_form_is_refused_on_every_form_route(app: Flask, http: FlaskClient) -> None:
    form = {"csrf_token": csrf_token(http), **{name: "a\x00b" for name in FIELDS}}
    for method, path in form_routes(app):
        response = http.open(path, method=method, data=form)
        assert_refused_in_format(response, path, 400)


def test_a_utf8_encoded_surrogate_in_a_form_is_never_a_500(app: Flask, http: FlaskClient) -> None:
    """CESU-style bytes ED A0 80 are not UTF-8; the form parser replaces them."""
    token = csrf_token(http)
    for method, path in form_routes(app):
        body = f"csrf_token={token}&" + "&".join(f"{name}=a%ED%A0%80b" for name in FIELDS)
        response = http.open(path, method=method, data=body, content_type=FORM)
        assert response.status_code < 500, (method, path, response.data[:300])


@pytest.mark.parametrize(
    "text", ["a\x00b", "a\ud800b", "\udbff\udbff"], ids=["nul", "lone", "two-high"]
)
def test_unstorable_text_in_json_is_a_400_problem_on_every_api_write_route(
    app: Flask, http: FlaskClient, text: str
) -> None:
    document = {"name": text, "slug": "acme", "email": text, "roles": [text],
                "description": text, text: "key"}  # fmt: skip
    for method, path in writable_rules(app):
        if not path.startswith("/api/"):
            continue
        response = http.open(path, method=method, json=document)
        assert_refused_in_format(response, path, 400)
        assert response.json["type"].endswith("/invalid-text"), (method, path, response.json)


def test_a_surrogate_pair_in_json_is_ordinary_text(http: FlaskClient) -> None:
    response = http.post("/api/v1/orgs", json={"name": "\U0001f600 Acme"})
    assert response.status_code == 401  # reaches the view, which wants a token


def test_malformed_json_is_a_400_problem(http: FlaskClient) -> None:
    response = http.post("/api/v1/orgs", data="{", content_type="application/json")
    assert_refused_in_format(response, "/api/v1/orgs", 400)
    assert response.json["type"].endswith("/invalid-json")


def test_an_empty_body_labelled_json_is_no_document(http: FlaskClient) -> None:
    response = http.get("/api/v1/orgs", data=b"", content_type="application/json")
    assert response.status_code == 401  # the view's own answer: it wants a token


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sign-in", {"data": {"email": "a@example.com", "password": "x"}}),
        ("/token", {"data": {"grant_type": "client_credentials", "client_id": "app"}}),
        ("/api/v1/orgs", {"json": {"name": "Acme"}}),
    ],
)
def test_a_nul_in_the_user_agent_that_sessions_and_audit_keep_is_refused(
    http: FlaskClient, path: str, body: dict
) -> None:
    if "data" in body:
        body["data"]["csrf_token"] = csrf_token(http)
    response = http.post(path, headers={"User-Agent": "a\x00b"}, **body)
    assert_refused_in_format(response, path, 400)
