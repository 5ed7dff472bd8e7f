"""Bearer access tokens for /api/v1, with failures as problem+json (RFC 9457)."""

from __future__ import annotations

from flask import request

from authserver.errors import Problem
from authserver.models import OAuthClient
from authserver.oauth.endpoints import AccessToken, find_access_token

CHALLENGE = 'Bearer realm="authserver"'


def require_bearer(scope: str) -> AccessToken:
    """The request's valid, unrevoked access token carrying `scope`; else 401 or 403."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Problem(
            401,
            "unauthenticated",
            "A Bearer access token is required.",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    token = find_access_token(raw.strip())
    if token is None or token.is_expired() or token.is_revoked():
        raise Problem(
            401,
            "invalid-token",
            "The access token is invalid, expired or revoked.",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    if scope not in token.get_scope().split():
        raise Problem(
            403,
            "insufficient-scope",
            f"The access token lacks the {scope} scope.",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="insufficient_scope"'},
        )
    return token


def token_client(token: AccessToken) -> OAuthClient | None:
    return OAuthClient.find(str(token.claims.get("client_id", "")))
