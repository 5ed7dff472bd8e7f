"""PUT /api/v1/services/{service}/manifest: a service declares its permissions and roles."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from authserver import audit, ratelimits
from authserver.api import models
from authserver.api.auth import SERVICES_SYNC as SYNC
from authserver.api.auth import require_bearer, token_client
from authserver.api.operations import route
from authserver.errors import Problem
from authserver.extensions import csrf, db
from authserver.oauth.tokens import SERVICE
from authserver.services import sync as manifest_sync
from authserver.services.manifest import MANIFEST_SCHEMA, ManifestInvalid, parse

services_api = Blueprint("services_api", __name__, url_prefix="/api/v1")
MANIFEST_PUSH_LIMIT = "30 per minute"  # per client, counted once it has authenticated


@route(
    services_api,
    "GET",
    "/schemas/service-manifest.json",
    "The service manifest JSON Schema",
    scope=None,
    returns={"type": "object"},
)
def manifest_schema() -> Response:
    return jsonify(MANIFEST_SCHEMA)


@route(
    services_api,
    "PUT",
    "/services/<service>/manifest",
    "Sync a service's permissions and roles",
    scope=SYNC,
    body={"$ref": "#/components/schemas/Manifest"},
    returns=models.ManifestSync,
    errors={
        409: "A removed role is held",
        422: "Invalid manifest",
        429: "Too many pushes; see Retry-After",
    },
    query=({"name": "prune_assignments", "in": "query", "schema": {"type": "boolean"}},),
)
@csrf.exempt
def put_manifest(service: str) -> Response:
    # The audience is our API, like a person's token for it; only a service's own
    # client_credentials token passes, never a person's token of a service-bound client.
    token = require_bearer(SYNC, subject=SERVICE)
    client = token_client(token)
    if client is None or client.service_name != service:
        # A client of service A can never change service B.
        raise Problem(403, "wrong-service", f"This client may not change the {service} manifest.")
    ratelimits.spend(MANIFEST_PUSH_LIMIT, "manifest", client.client_id)
    document = request.get_json(silent=True)
    if document is None:
        raise Problem(415, "not-json", "Send the manifest as application/json.")
    try:
        manifest = parse(service, document)
    except ManifestInvalid as invalid:
        errors = [{"field": e.field, "message": e.message} for e in invalid.errors]
        raise Problem(422, "invalid-manifest", "The manifest is invalid.", errors=errors) from None
    prune = request.args.get("prune_assignments", "false").lower() == "true"
    try:
        result = manifest_sync.sync(
            manifest, manifest_sync.manifest_digest(document), prune_assignments=prune
        )
    except manifest_sync.ReservedService as reserved:
        db.session.rollback()
        raise Problem(403, "reserved-service", str(reserved)) from None
    except manifest_sync.RolesInUse as in_use:
        db.session.rollback()
        raise Problem(
            409,
            "role-in-use",
            f"{in_use}; retry with ?prune_assignments=true to remove them",
            held_by=in_use.holders,
        ) from None
    if result.has_changes:
        audit.record(
            "manifest.synced",
            actor_client_id=client.client_id,
            target_type="service",
            target_id=service,
            **result.as_dict(),
        )
    db.session.commit()
    return jsonify(models.ManifestSync.model_validate(result.as_dict()).model_dump(mode="json"))
