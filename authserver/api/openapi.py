"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json, built from the
operations the routes declare (api/operations.py) and their models' JSON Schemas. A test
proves that every /api/v1 route is in it, and a bounded schemathesis run finds no 500."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel

from authserver.api import models
from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.auth import SERVICES_SYNC as SYNC
from authserver.api.operations import OPERATIONS, Operation, route
from authserver.config import current_settings
from authserver.oauth.scopes import SCOPES
from authserver.oauth.tokens import API_AUDIENCE
from authserver.services.manifest import MANIFEST_SCHEMA

openapi_api = Blueprint("openapi_api", __name__, url_prefix="/api/v1")

UUID = {"type": "string", "format": "uuid"}
# Every path parameter by name: ids are UUIDs; a service is named as its manifest says.
PATH_PARAMETERS = {
    "org_id": UUID,
    "member_id": UUID,
    "invitation_id": UUID,
    "team_id": UUID,
    "key_id": UUID,
    "service": {"type": "string", "pattern": "^[a-z0-9_.-]{1,50}$"},
}
# What any operation with a token may answer besides its own statuses.
COMMON_ERRORS = {
    401: "No valid Bearer token",
    403: "The token or the caller's roles do not allow it",
    404: "Not found, or not visible to the caller",
}
# What every operation may answer: the hooks that run before any view refuse a NUL or a
# lone surrogate in the path or the query (authserver/security.py).
REQUEST_ERRORS = {400: "A string in the request holds a NUL character or a lone surrogate"}
# And what an operation with a body may answer before its view reads a field of it.
BODY_ERRORS = {
    400: "The body is not JSON, or a string in it holds a NUL character or a lone surrogate",
    413: "The body is over 1 MiB",
    415: "The body is not JSON",
    422: "A field is missing, of the wrong type, or invalid",
}
SUCCESS = {200: "OK", 201: "Created", 204: "Done"}


def _security(issuer: str) -> dict[str, Any]:
    """Bearer JWTs for this API's own audience: a person's, from the code flow with
    `resource=auth`, or a service's own client_credentials token (README "API audience")."""
    return {
        "type": "oauth2",
        "description": (
            f"Send an RFC 9068 access token whose aud is `{API_AUDIENCE}`: a person's from the "
            f"code flow with resource={API_AUDIENCE} (RFC 8707), or a service's own "
            "client_credentials token. Tokens for a client or another service get 401."
        ),
        "flows": {
            "authorizationCode": {
                "authorizationUrl": f"{issuer}/authorize",
                "tokenUrl": f"{issuer}/token",
                "refreshUrl": f"{issuer}/token",
                "scopes": {READ: SCOPES[READ], WRITE: SCOPES[WRITE]},
            },
            "clientCredentials": {"tokenUrl": f"{issuer}/token", "scopes": {SYNC: SCOPES[SYNC]}},
        },
    }


def document(issuer: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "authserver API", "version": "1"},
        "servers": [{"url": issuer}],
        "components": {
            "securitySchemes": {"oauth2": _security(issuer)},
            "schemas": {
                "Manifest": MANIFEST_SCHEMA,
                **models.component_schemas([models.Problem, *_models_used()]),
            },
        },
        "paths": _paths(OPERATIONS),
    }


def _paths(operations: list[Operation]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in operations:
        item = paths.setdefault(op.path, {})
        names = re.findall(r"{(\w+)}", op.path)
        if names:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
                for name in names
            ]
        item[op.method] = _operation(op)
    return paths


def _operation(op: Operation) -> dict[str, Any]:
    success = op.success or SUCCESS.get(op.status, "OK")
    if op.returns is None:
        responses: dict[str, Any] = {str(op.status): {"description": success}}
    else:
        schema = _schema(op.returns)
        if op.many:
            schema = {"type": "array", "items": schema}
        responses = {str(op.status): _content("application/json", schema, success)}
    errors = {
        **REQUEST_ERRORS,
        **(BODY_ERRORS if op.body is not None else {}),
        **(COMMON_ERRORS if op.scope else {}),
        **op.errors,
    }
    for status, description in errors.items():
        responses[str(status)] = _content(
            "application/problem+json", _schema(models.Problem), description
        )
    shown: dict[str, Any] = {"summary": op.summary}
    if op.scope:
        shown["security"] = [{"oauth2": [op.scope]}]
    shown["responses"] = responses
    if op.query:
        shown["parameters"] = list(op.query)
    if op.body is not None:
        body = {"application/json": {"schema": _schema(op.body)}}
        shown["requestBody"] = {"required": True, "content": body}
    return shown


def _schema(declared: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(declared, dict):
        return declared
    return {"$ref": f"#/components/schemas/{declared.__name__}"}


def _content(mime: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {mime: {"schema": schema}}}


def _models_used() -> list[type[BaseModel]]:
    declared = [schema for op in OPERATIONS for schema in (op.body, op.returns)]
    found = {id(m): m for m in declared if isinstance(m, type) and issubclass(m, BaseModel)}
    return sorted(found.values(), key=lambda model: model.__name__)


@route(openapi_api, "GET", "/openapi.json", "This document", scope=None, returns={"type": "object"})
def openapi() -> Response:
    return jsonify(document(current_settings().issuer))
