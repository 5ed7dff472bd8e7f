"""The OpenAPI document covers every /api/v1 route, and a bounded schemathesis run against
it, with a real person's token, finds no 500 and no answer the document does not declare
(status, Content-Type, headers, body schema)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from schemathesis import checks

from authserver.api.auth import orgs_scope_for
from tests.api.conftest import Person


def test_every_api_route_is_in_the_document(app: Flask, http: FlaskClient) -> None:
    document = http.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served - documented == set()
    assert documented - served == set()


def test_every_operation_names_the_scope_and_audience_it_needs(http: FlaskClient) -> None:
    document = http.get("/api/v1/openapi.json").json
    secured = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or "security" not in operation:
                continue
            needed = "services:sync" if "/services/" in path else orgs_scope_for(method.upper())
            assert operation["security"] == [{"oauth2": [needed]}], (method, path)
            secured += 1
    assert secured >= 15
    scheme = document["components"]["securitySchemes"]["oauth2"]
    assert "resource=auth" in scheme["description"]
    assert set(scheme["flows"]["authorizationCode"]["scopes"]) == {"orgs", "orgs:write"}


def test_the_document_is_valid_openapi_3_1_with_valid_schemas(
    app: Flask, http: FlaskClient
) -> None:
    """The OpenAPI 3.1 meta-schema (schemathesis's copy) accepts the document, and each
    component is a valid JSON Schema 2020-12 (the dialect OpenAPI 3.1 uses)."""
    document = http.get("/api/v1/openapi.json").json
    schemathesis.openapi.from_dict(document).validate()
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert {"Problem", "AuditPage", "ManifestSync", "ApiKeyCreated"} <= set(
        document["components"]["schemas"]
    )


def test_a_problem_answer_has_the_documented_shape(
    http: FlaskClient, owner: Person, org: dict
) -> None:
    schemas = http.get("/api/v1/openapi.json").json["components"]["schemas"]
    refused = owner.call("POST", f"/{org['id']}/teams", {"name": "x", "slug": "x"})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    Draft202012Validator(schemas["Problem"]).validate(refused.json)
    assert refused.json["field"] == "slug"


# What each answer must be by the document: its status code declared by the operation, its
# Content-Type, headers and body those the document gives for that status.
RESPONSE_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def api_under_test(app: Flask, api: None) -> Flask:
    """The app with an organization and a person whose token every generated call uses."""
    owner = Person(app, "fuzz@example.com")
    owner.call("POST", "", {"name": "Fuzz", "slug": "fuzz"})
    app.config["FUZZ_TOKEN"] = owner.token
    return app


def test_generated_requests_get_no_500_and_only_documented_answers(
    api_under_test: Flask,
) -> None:
    """Each operation gets a bounded number of generated requests (valid and not)."""
    token = api_under_test.config["FUZZ_TOKEN"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_under_test)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    seen: set[int] = set()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def never_500(case) -> None:  # noqa: ANN001
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            seen.add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=RESPONSE_CHECKS)

        never_500()
    # The run reached past authentication: successes and the rules' refusals both occurred.
    assert {200, 404, 422} <= seen, seen


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def test_answers_match_the_schemas_their_operations_declare(
    http: FlaskClient, owner: Person, org: dict
) -> None:
    """The document is generated from declarations; this checks the declarations are true:
    each read answers what its operation's 200 schema says."""
    document = http.get("/api/v1/openapi.json").json
    owner.call("POST", f"/{org['id']}/teams", {"name": "Ops", "slug": "ops"})
    owner.call("POST", f"/{org['id']}/api-keys", {"name": "CI"})
    checked = 0
    for path, item in document["paths"].items():
        if "get" not in item or "security" not in item["get"] or "{team_id}" in path:
            continue
        url = path.replace("{org_id}", org["id"])
        answer = http.get(url, headers={"Authorization": f"Bearer {owner.token}"})
        assert answer.status_code == 200, (path, answer.json)
        pointer = _pointer("paths", path, "get", "responses", "200", "content")
        schema = {**document, "$ref": pointer + "/application~1json/schema"}
        Draft202012Validator(schema).validate(answer.json)
        assert not Draft202012Validator(schema).is_valid([{"id": None}, {"name": 1}]), path
        checked += bool(answer.json)  # something was there to check
    assert checked >= 7


def _refusals_before_the_view(operation: dict) -> list[tuple[str, dict]]:
    """Requests every operation's hooks refuse, whatever its view does: (query, request)."""
    refusals = [("bad=%00", {})]
    if "requestBody" in operation:
        refusals += [
            ("", {"data": "{", "content_type": "application/json"}),
            ("", {"data": "name=x", "content_type": "text/plain"}),
            ("", {"data": b'"' + b"x" * (1024 * 1024) + b'"', "content_type": "application/json"}),
            ("", {"json": {"no-such-field": 1}}),
        ]
    return refusals


def test_refusals_before_the_view_are_documented(
    http: FlaskClient, owner: Person, org: dict
) -> None:
    """A NUL in the query, a body that is not JSON, too large, or of unknown fields: the
    status each operation answers is one its document declares, in problem+json."""
    document = http.get("/api/v1/openapi.json").json
    seen: set[int] = set()
    for path, item in document["paths"].items():
        url = re.sub(r"\{\w+_id\}", org["id"], path).replace("{service}", "billing")
        for method, operation in item.items():
            if method == "parameters":
                continue
            for query, request in _refusals_before_the_view(operation):
                answer = http.open(
                    f"{url}?{query}",
                    method=method.upper(),
                    headers={"Authorization": f"Bearer {owner.token}"},
                    **request,
                )
                assert str(answer.status_code) in operation["responses"], (method, path, query)
                assert answer.mimetype == "application/problem+json", (method, path)
                seen.add(answer.status_code)
    assert {400, 413, 415, 422} <= seen, seen
