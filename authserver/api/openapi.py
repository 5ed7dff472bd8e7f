"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json. A test proves that
every /api/v1 route is in it, and a bounded schemathesis run finds no 500."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.models import component_schemas
from authserver.config import current_settings
from authserver.oauth.scopes import SCOPES
from authserver.oauth.tokens import API_AUDIENCE
from authserver.services.manifest import MANIFEST_SCHEMA

openapi_api = Blueprint("openapi_api", __name__, url_prefix="/api/v1")

UUID = {"type": "string", "format": "uuid"}
SYNC = "services:sync"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": _problem("No valid Bearer token"),
    "403": _problem("The token or the caller's roles do not allow it"),
    "404": _problem("Not found, or not visible to the caller"),
}
ORG_ID = {"name": "org_id", "in": "path", "required": True, "schema": UUID}
MEMBER_ID = {"name": "member_id", "in": "path", "required": True, "schema": UUID}
INVITATION_ID = {"name": "invitation_id", "in": "path", "required": True, "schema": UUID}
ORG = {"$ref": "#/components/schemas/Organization"}
MY_ORG = {"$ref": "#/components/schemas/MyOrganization"}
MEMBER = {"$ref": "#/components/schemas/Member"}
INVITATION = {"$ref": "#/components/schemas/Invitation"}
FACTOR_POLICY = {"$ref": "#/components/schemas/FactorPolicy"}


def _op(scope: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"oauth2": [scope]}],
        "responses": {**responses, **ERRORS},
        **extra,
    }


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
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
                "Manifest": MANIFEST_SCHEMA,
                **component_schemas(),
            },
        },
        "paths": {**_paths(), **_team_paths(), **_key_paths()},
    }


def _paths() -> dict[str, Any]:
    gone = {"204": {"description": "Done"}}
    return {
        "/api/v1/schemas/service-manifest.json": {
            "get": {
                "summary": "The service manifest JSON Schema",
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/services/{service}/manifest": {
            "put": _op(
                SYNC,
                "Sync a service's permissions and roles",
                {
                    "200": _json({"type": "object"}),
                    "409": _problem("A removed role is held"),
                    "415": _problem("Not JSON"),
                    "422": _problem("Invalid manifest"),
                },
                parameters=[
                    {
                        "name": "service",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[a-z0-9_.-]{1,50}$"},
                    },
                    {"name": "prune_assignments", "in": "query", "schema": {"type": "boolean"}},
                ],
                requestBody=_body({"$ref": "#/components/schemas/Manifest"}),
            )
        },
        "/api/v1/orgs": {
            "get": _op(
                READ, "My organizations", {"200": _json({"type": "array", "items": MY_ORG})}
            ),
            "post": _op(
                WRITE,
                "Create an organization",
                {
                    "201": _json(ORG, "Created"),
                    "409": _problem("Slug taken"),
                    "422": _problem("Invalid field"),
                },
                requestBody=_body(_ref("OrganizationCreate")),
            ),
        },
        "/api/v1/orgs/{org_id}": {
            "parameters": [ORG_ID],
            "get": _op(READ, "Read an organization", {"200": _json(ORG)}),
            "patch": _op(
                WRITE,
                "Rename",
                {"200": _json(ORG), "422": _problem("Invalid name")},
                requestBody=_body(_ref("OrganizationRename")),
            ),
            "delete": _op(WRITE, "Delete", gone),
        },
        "/api/v1/orgs/{org_id}/members": {
            "parameters": [ORG_ID],
            # No "post": a person joins by accepting an invitation (or by an operator,
            # `authserver orgs add-member`), never without their agreement.
            "get": _op(READ, "Members", {"200": _json({"type": "array", "items": MEMBER})}),
        },
        "/api/v1/orgs/{org_id}/members/{member_id}/roles": {
            "parameters": [ORG_ID, MEMBER_ID],
            "put": _op(
                WRITE,
                "Replace a member's roles",
                {
                    "200": _json(MEMBER),
                    "409": _problem("Last owner"),
                    "422": _problem("Undeclared role"),
                },
                requestBody=_body(_ref("RolesReplace")),
            ),
        },
        "/api/v1/orgs/{org_id}/members/{member_id}": {
            "parameters": [ORG_ID, MEMBER_ID],
            "delete": _op(
                WRITE, "Remove a member or leave", {**gone, "409": _problem("Last owner")}
            ),
        },
        "/api/v1/orgs/{org_id}/invitations": {
            "parameters": [ORG_ID],
            "get": _op(READ, "Invitations", {"200": _json({"type": "array", "items": INVITATION})}),
            "post": _op(
                WRITE,
                "Invite",
                {
                    "201": _json(INVITATION, "Created"),
                    "409": _problem("Pending invitation exists"),
                    "422": _problem("Invalid field"),
                },
                requestBody=_body(_ref("InvitationCreate")),
            ),
        },
        "/api/v1/orgs/{org_id}/invitations/{invitation_id}": {
            "parameters": [ORG_ID, INVITATION_ID],
            "delete": _op(WRITE, "Revoke an invitation", {**gone, "409": _problem("Not pending")}),
        },
        "/api/v1/orgs/{org_id}/second-factor-policy": {
            "parameters": [ORG_ID],
            "get": _op(
                READ, "The organization's second-factor policy", {"200": _json(FACTOR_POLICY)}
            ),
            "put": _op(
                WRITE,
                "Require (or stop requiring) a second factor for the organization's tokens",
                {
                    "200": _json(FACTOR_POLICY),
                    "415": _problem("Not JSON"),
                    "422": _problem("Not a boolean"),
                },
                requestBody=_body({"$ref": "#/components/schemas/FactorPolicyChange"}),
            ),
        },
        "/api/v1/orgs/{org_id}/invitations/{invitation_id}/resend": {
            "parameters": [ORG_ID, INVITATION_ID],
            "post": _op(
                WRITE,
                "Mail the invitation again with a new link",
                {
                    "200": _json(INVITATION),
                    "404": _problem("No such invitation"),
                    "409": _problem("Not pending, or mailed too often"),
                },
            ),
        },
        "/api/v1/orgs/{org_id}/audit-events": {
            "parameters": [ORG_ID],
            "get": _op(
                READ,
                "The organization's audit log, newest first (owners and admins)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["events", "next"],
                            "properties": {
                                "events": {"type": "array", "items": {"type": "object"}},
                                "next": {"type": ["string", "null"]},
                            },
                        }
                    ),
                    "400": _problem("Bad limit or cursor"),
                },
                parameters=[
                    {"name": "type", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                    {"name": "before", "in": "query", "schema": {"type": "string"}},
                ],
            ),
        },
        "/api/v1/invitations": {
            "get": _op(
                READ,
                "My pending invitations",
                {"200": _json({"type": "array", "items": INVITATION})},
            ),
        },
        "/api/v1/invitations/{invitation_id}/accept": {
            "parameters": [INVITATION_ID],
            "post": _op(
                WRITE,
                "Accept",
                {"200": _json(INVITATION), "409": _problem("Not pending or expired")},
            ),
        },
        "/api/v1/invitations/{invitation_id}/decline": {
            "parameters": [INVITATION_ID],
            "post": _op(
                WRITE,
                "Decline",
                {"200": _json(INVITATION), "409": _problem("Not pending or expired")},
            ),
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}
        },
    }


def _team_paths() -> dict[str, Any]:
    """Teams: bodies from api/models.py (components generated from the Pydantic models)."""
    team, gone = _ref("Team"), {"204": {"description": "Done"}}
    team_id = {"name": "team_id", "in": "path", "required": True, "schema": UUID}
    return {
        "/api/v1/orgs/{org_id}/teams": {
            "parameters": [ORG_ID],
            "get": _op(READ, "Teams", {"200": _json({"type": "array", "items": team})}),
            "post": _op(
                WRITE,
                "Create a team",
                {
                    "201": _json(team, "Created"),
                    "409": _problem("Name or slug taken"),
                    "415": _problem("Not JSON"),
                    "422": _problem("Invalid field"),
                },
                requestBody=_body(_ref("TeamCreate")),
            ),
        },
        "/api/v1/orgs/{org_id}/teams/{team_id}": {
            "parameters": [ORG_ID, team_id],
            "get": _op(READ, "Read a team", {"200": _json(team)}),
            "patch": _op(
                WRITE,
                "Rename, describe or change a team's roles",
                {
                    "200": _json(team),
                    "409": _problem("Name taken"),
                    "415": _problem("Not JSON"),
                    "422": _problem("Invalid field"),
                },
                requestBody=_body(_ref("TeamUpdate")),
            ),
            "delete": _op(WRITE, "Delete a team and its role grants", gone),
        },
        "/api/v1/orgs/{org_id}/teams/{team_id}/members/{member_id}": {
            "parameters": [ORG_ID, team_id, MEMBER_ID],
            "put": _op(
                WRITE,
                "Add a member to the team",
                {"200": _json(team), "409": _problem("Already in the team")},
            ),
            "delete": _op(WRITE, "Take a member out of the team, or leave it", gone),
        },
    }


def _key_paths() -> dict[str, Any]:
    """API keys: bodies from api/models.py. The key itself is exchanged at /token (RFC 8693)."""
    key, gone = _ref("ApiKey"), {"204": {"description": "Revoked"}}
    key_id = {"name": "key_id", "in": "path", "required": True, "schema": UUID}
    created = {
        "201": _json(_ref("ApiKeyCreated"), "Created; the key is shown this once"),
        "409": _problem("Too many keys"),
        "415": _problem("Not JSON"),
        "422": _problem("Invalid field"),
    }
    revoked = {**gone, "409": _problem("Already revoked")}
    listing = {"200": _json({"type": "array", "items": key})}
    return {
        "/api/v1/api-keys": {
            "get": _op(READ, "My API keys", listing),
            "post": _op(
                WRITE,
                "Create a personal API key",
                created,
                requestBody=_body(_ref("PersonalKeyCreate")),
            ),
        },
        "/api/v1/api-keys/{key_id}": {
            "parameters": [key_id],
            "delete": _op(WRITE, "Revoke one of my API keys", revoked),
        },
        "/api/v1/orgs/{org_id}/api-keys": {
            "parameters": [ORG_ID],
            "get": _op(READ, "The organization's API keys (owners and admins)", listing),
            "post": _op(
                WRITE,
                "Create an organization API key",
                created,
                requestBody=_body(_ref("OrgKeyCreate")),
            ),
        },
        "/api/v1/orgs/{org_id}/api-keys/{key_id}": {
            "parameters": [ORG_ID, key_id],
            "delete": _op(WRITE, "Revoke an organization API key", revoked),
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@openapi_api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document(current_settings().issuer))
