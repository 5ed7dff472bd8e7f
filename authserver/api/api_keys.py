"""/api/v1/api-keys (a person's own keys) and /api/v1/orgs/<org_id>/api-keys (an
organization's): create (the key is shown once), list and revoke, with a person's token."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from authserver.api import models
from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.operations import route
from authserver.api.orgs import caller, changed, person, problems
from authserver.credentials import api_keys
from authserver.extensions import csrf
from authserver.models import ApiKey

keys_api = Blueprint("keys_api", __name__, url_prefix="/api/v1")
csrf.exempt(keys_api)  # Bearer tokens, not cookies: there is no cross-site request to forge

# The key itself is exchanged at /token (RFC 8693), never sent to this API.
CREATED = {
    "scope": WRITE,
    "returns": models.ApiKeyCreated,
    "status": 201,
    "success": "Created; the key is shown this once",
    "errors": {409: "Too many keys"},
}
REVOKED = {"scope": WRITE, "status": 204, "success": "Revoked", "errors": {409: "Already revoked"}}


def key_view(key: ApiKey) -> dict[str, object]:
    return _view(models.ApiKey, key)


def _view(model: type[models.ApiKey], row: ApiKey, **extra: object) -> dict[str, object]:
    return model(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        organization_id=row.organization_id,
        scopes=list(row.scopes),
        roles=sorted(role.qualified_name for role in row.roles),
        teams=sorted(team.id for team in row.teams),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        **extra,
    ).model_dump(mode="json")


def _created(key: ApiKey, raw: str) -> tuple[Response, int]:
    return jsonify(_view(models.ApiKeyCreated, key, key=raw)), 201


@route(keys_api, "GET", "/api-keys", "My API keys", scope=READ, returns=models.ApiKey, many=True)
@problems
def list_my_keys() -> Response:
    return jsonify([key_view(key) for key in api_keys.personal_keys(person())])


@route(
    keys_api,
    "POST",
    "/api-keys",
    "Create a personal API key",
    body=models.PersonalKeyCreate,
    **CREATED,
)
@problems
def create_my_key() -> tuple[Response, int]:
    user = person()
    data = models.parse(models.PersonalKeyCreate)
    key, raw = api_keys.create_personal(user, data.name, data.scopes, data.expires_in)
    changed("api_key.created", user, None, target_type="api_key", target_id=str(key.id))
    return _created(key, raw)


@route(keys_api, "DELETE", "/api-keys/<key_id>", "Revoke one of my API keys", **REVOKED)
@problems
def revoke_my_key(key_id: str) -> tuple[str, int]:
    user = person()
    key = api_keys.revoke_personal(user, key_id)
    changed("api_key.revoked", user, None, target_type="api_key", target_id=str(key.id))
    return "", 204


@route(
    keys_api,
    "GET",
    "/orgs/<org_id>/api-keys",
    "The organization's API keys (owners and admins)",
    scope=READ,
    returns=models.ApiKey,
    many=True,
)
@problems
def list_org_keys(org_id: str) -> Response:
    by = caller(person(), org_id)
    return jsonify([key_view(key) for key in api_keys.org_keys(by)])


@route(
    keys_api,
    "POST",
    "/orgs/<org_id>/api-keys",
    "Create an organization API key",
    body=models.OrgKeyCreate,
    **CREATED,
)
@problems
def create_org_key(org_id: str) -> tuple[Response, int]:
    user = person()
    data = models.parse(models.OrgKeyCreate)
    by = caller(user, org_id)
    key, raw = api_keys.create_for_org(
        by,
        data.name,
        data.roles,
        [str(team) for team in data.teams],
        data.expires_in,
        auth_methods=g.get("api_auth_methods", ()),
    )
    changed(
        "api_key.created",
        user,
        by.organization.id,
        target_type="api_key",
        target_id=str(key.id),
        roles=[r.qualified_name for r in key.roles],
    )
    return _created(key, raw)


@route(
    keys_api,
    "DELETE",
    "/orgs/<org_id>/api-keys/<key_id>",
    "Revoke an organization API key",
    **REVOKED,
)
@problems
def revoke_org_key(org_id: str, key_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    key = api_keys.revoke_for_org(by, key_id)
    changed(
        "api_key.revoked", user, by.organization.id, target_type="api_key", target_id=str(key.id)
    )
    return "", 204
