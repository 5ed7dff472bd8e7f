"""The discovery document (OIDC Discovery 1.0, RFC 8414), built from what is really served."""

from __future__ import annotations

from typing import Any

from flask import Flask

from authserver.config import Settings
from authserver.keys import ALGORITHMS
from authserver.mfa.amr import ACR_VALUES_SUPPORTED
from authserver.models.clients import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS, GRANT_TYPES
from authserver.oauth import dpop
from authserver.oauth.private_key_jwt import SIGNING_ALGORITHMS
from authserver.oauth.scopes import SCOPES

# Claims our ID tokens and access tokens can carry (OIDC Discovery `claims_supported`).
CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "sid",
    "amr",
    "acr",
    "at_hash",
    "email",
    "email_verified",
    "name",
    "picture",
)

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
    "device_authorization_endpoint": "/device_authorization",  # RFC 8628 §4
    "pushed_authorization_request_endpoint": "/par",  # RFC 9126 §5
}


def build_metadata(app: Flask, settings: Settings) -> dict[str, Any]:
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    metadata: dict[str, Any] = {"issuer": settings.issuer}
    for name, path in ENDPOINTS.items():
        if path in routes:
            metadata[name] = settings.issuer + path
    metadata.update(
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=list(GRANT_TYPES),
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=list(ALGORITHMS),
        scopes_supported=list(SCOPES),
        claims_supported=list(CLAIMS),
        code_challenge_methods_supported=["S256"],
        token_endpoint_auth_methods_supported=list(AUTH_METHODS),
        prompt_values_supported=["none", "login", "consent"],
        acr_values_supported=list(ACR_VALUES_SUPPORTED),  # step-up to a second factor
        authorization_response_iss_parameter_supported=True,  # RFC 9207
        dpop_signing_alg_values_supported=list(dpop.ALGORITHMS),  # RFC 9449 §5.1
        # OIDC Back-Channel Logout 1.0 §2.1: logout tokens carry sid (and sub) always.
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
    )
    if "revocation_endpoint" in metadata:
        metadata["revocation_endpoint_auth_methods_supported"] = list(AUTH_METHODS)
    if "introspection_endpoint" in metadata:
        metadata["introspection_endpoint_auth_methods_supported"] = list(CONFIDENTIAL_AUTH_METHODS)
    # RFC 8414 §2: the algorithms private_key_jwt assertions may use, at every endpoint.
    for endpoint in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        if endpoint in metadata:
            metadata[f"{endpoint}_auth_signing_alg_values_supported"] = list(SIGNING_ALGORITHMS)
    if "pushed_authorization_request_endpoint" in metadata:
        metadata["require_pushed_authorization_requests"] = (
            settings.require_pushed_authorization_requests
        )
    return metadata
