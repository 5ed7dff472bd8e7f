"""Routes of the oidc blueprint: discovery documents and the JWKS."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, request

from authserver.config import current_settings
from authserver.keys import current_key_store
from authserver.oidc.discovery import build_metadata

oidc = Blueprint("oidc", __name__)


def _metadata_body() -> bytes:
    """Discovery is built once per app: the routes and settings do not change while it runs."""
    body = current_app.extensions.get("authserver.discovery")
    if body is None:
        metadata = build_metadata(current_app, current_settings())
        body = current_app.extensions["authserver.discovery"] = json.dumps(metadata).encode()
    return body


@oidc.get("/.well-known/openid-configuration")
@oidc.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    response = Response(_metadata_body(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@oidc.get("/jwks.json")
def jwks() -> Response:
    """RFC 7517 key set: public members only, cacheable, 304 on a matching If-None-Match."""
    body, etag = current_key_store().jwks_document()
    response = Response(body, mimetype="application/jwk-set+json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={current_settings().jwks_max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)
