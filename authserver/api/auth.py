"""Bearer access tokens for /api/v1, with failures as problem+json (RFC 9457).

The API is a resource server like any other (DESIGN "Boundaries"): a token must be for its
audience (`aud` = API_AUDIENCE, asked for with `resource=auth`), of the kind of subject the
route serves, and carry the route's scope.
"""

from __future__ import annotations

from flask import request

from authserver.errors import Problem
from authserver.models import OAuthClient
from authserver.oauth import dpop
from authserver.oauth.endpoints import AccessToken, find_access_token
from authserver.oauth.tokens import API_AUDIENCE, PERSON, SERVICE

CHALLENGE = 'Bearer realm="authserver"'
# The scopes of the organizations API: reading, and changing (README "Organizations API").
ORGS_READ = "orgs"
ORGS_WRITE = "orgs:write"
SERVICES_SYNC = "services:sync"  # a service's client_credentials token, to push its manifest
KIND_REFUSALS = {
    PERSON: ("person-required", "This API needs a person's access token."),
    SERVICE: ("service-required", "This API needs a service's client_credentials token."),
}


def require_bearer(scope: str, *, subject: str) -> AccessToken:
    """The request's valid, unrevoked access token for this API, whose subject is of the
    kind `subject` and which carries `scope`; else 401 or 403."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not raw.strip():
        raise Problem(
            401,
            "unauthenticated",
            "A Bearer access token is required.",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    token = find_access_token(raw.strip())
    if token is None or token.is_expired() or token.is_revoked():
        raise _invalid_token("The access token is invalid, expired or revoked.")
    _check_binding(scheme, raw.strip(), token)
    if not token.is_for(API_AUDIENCE):
        # RFC 9068 §4 and RFC 8707: a token for a client or another service is not ours.
        raise _invalid_token(f"The token is not for this API: ask with resource={API_AUDIENCE}.")
    if token.subject_kind != subject:
        slug, detail = KIND_REFUSALS[subject]
        raise Problem(403, slug, detail)
    if scope not in token.get_scope().split():
        # RFC 6750 §3: the challenge names the scope the route needs.
        challenge = f'{CHALLENGE}, error="insufficient_scope", scope="{scope}"'
        raise Problem(
            403,
            "insufficient-scope",
            f"The access token lacks the {scope} scope.",
            headers={"WWW-Authenticate": challenge},
        )
    return token


def _check_binding(scheme: str, raw: str, token: AccessToken) -> None:
    """RFC 9449 §7: a DPoP-bound token comes with the DPoP scheme and a proof with `ath`."""
    try:
        dpop.check_presentation(scheme, raw, token.claims)
    except dpop.ProofRefused as refused:
        headers = {"WWW-Authenticate": dpop.challenge(refused), **dpop.nonce_headers(refused)}
        slug = refused.error.replace("_", "-")
        raise Problem(401, slug, refused.description, headers=headers) from None


def _invalid_token(detail: str) -> Problem:
    return Problem(
        401,
        "invalid-token",
        detail,
        headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
    )


def orgs_scope_for(method: str) -> str:
    """RFC 9110 §9.2.1: a safe method only reads; every other method changes something and
    needs the write scope. Decided by the method, so no route can forget it."""
    return ORGS_READ if method in ("GET", "HEAD") else ORGS_WRITE


def token_client(token: AccessToken) -> OAuthClient | None:
    return OAuthClient.find(str(token.claims.get("client_id", "")))
