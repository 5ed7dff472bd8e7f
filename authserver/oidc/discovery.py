"""The discovery document (OIDC Discovery 1.0, RFC 8414), built from what is really served."""

from __future__ import annotations

from typing import Any

from flask import Flask

from authserver.config import Settings
from authserver.keys import ALGORITHMS

# Endpoint metadata names and the routes that serve them. A name is advertised only when
# its route is registered, so the document never promises an endpoint that does not exist.
ENDPOINTS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "end_session_endpoint": "/logout",
    "jwks_uri": "/jwks.json",
}


def build_metadata(app: Flask, settings: Settings) -> dict[str, Any]:
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    metadata: dict[str, Any] = {"issuer": settings.issuer}
    for name, path in ENDPOINTS.items():
        if path in routes:
            metadata[name] = settings.issuer + path
    metadata.update(
        response_types_supported=["code"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=list(ALGORITHMS),
    )
    return metadata
