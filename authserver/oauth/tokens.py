"""RFC 9068 access tokens and OIDC ID tokens, signed by the key store.

Hand-written rather than Authlib's JWTBearerTokenGenerator and OpenIDCode: both sign with a
static key configuration, and every token here must be signed by the KeyStore (so rotation
follows its publish-before-sign schedule) and carry our family id, `sid` and `amr`.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authserver.clock import utcnow
from authserver.config import Settings
from authserver.keys import KeyStore
from authserver.mfa.amr import acr_for
from authserver.models import OAuthClient, User
from authserver.services.auth_manifest import AUTH_SERVICE

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1

# Our own /api/v1 is a resource server like any other (DESIGN "Boundaries"): its audience is
# the built-in service `auth`, which a client names with `resource=auth` (RFC 8707).
API_AUDIENCE = AUTH_SERVICE

# A token says what kind of subject `sub` names (DESIGN "Boundaries"): a person's id, a
# service client's id, or an organization's id (a token from an org API key). A token from
# any API key also says so in `act` (RFC 8693 §4.1: the key acts for the subject).
SUBJECT_KIND_CLAIM = "sub_kind"
PERSON = "person"
SERVICE = "service"
ORGANIZATION = "organization"
API_KEY = "api_key"


@dataclass(frozen=True)
class Grant:
    """What a token is issued for: who, to which client, with what, and how they signed in."""

    client: OAuthClient
    scope: str
    user: User | None = None
    family_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    auth_time: datetime | None = None
    auth_methods: tuple[str, ...] = ()
    nonce: str | None = None
    audience: str | None = None  # a service named by an RFC 8707 resource indicator
    # (sub, sub_kind) when the subject is neither `user` nor the client: an org API key's org.
    subject: tuple[str, str] | None = None
    dpop_jkt: str | None = None  # RFC 9449 §6: the DPoP key the access token is bound to
    # Organization claims read for this token (oauth/claims.py).
    access_claims: Mapping[str, Any] = field(default_factory=dict)
    id_claims: Mapping[str, Any] = field(default_factory=dict)


def scopes_of(scope: str) -> set[str]:
    return set(scope.split())


def audience_of(grant: Grant) -> str:
    """A resource indicator names the service; otherwise a person's token is for the client
    (and our /userinfo), and a service's own token is for our API."""
    if grant.audience is not None:
        return grant.audience
    return grant.client.client_id if grant.user is not None else API_AUDIENCE


def access_token_claims(grant: Grant, settings: Settings, now: datetime) -> dict[str, Any]:
    issued_at = int(now.timestamp())
    subject, kind = grant.subject or (
        (str(grant.user.id), PERSON) if grant.user else (grant.client.client_id, SERVICE)
    )
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": subject,
        SUBJECT_KIND_CLAIM: kind,
        "aud": audience_of(grant),
        "client_id": grant.client.client_id,
        "scope": grant.scope,
        "jti": uuid.uuid4().hex,
        "iat": issued_at,
        "exp": issued_at + settings.access_token_ttl,
    }
    if grant.auth_time is not None:
        claims["auth_time"] = int(grant.auth_time.timestamp())
    if grant.family_id is not None:
        claims["family_id"] = str(grant.family_id)
    if grant.dpop_jkt is not None:
        claims["cnf"] = {"jkt": grant.dpop_jkt}  # RFC 9449 §6.1
    claims.update(grant.access_claims)
    return claims


def issue_access_token(grant: Grant, settings: Settings, keys: KeyStore) -> str:
    return keys.sign(access_token_claims(grant, settings, utcnow()), typ=ACCESS_TOKEN_TYPE)


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of the SHA-256 of the token (RS256 and ES256 both)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def profile_claims(user: User, scope: str) -> dict[str, Any]:
    """The claims the granted scopes allow (OIDC Core §5.4), for ID tokens and /userinfo."""
    scopes = scopes_of(scope)
    claims: dict[str, Any] = {"sub": str(user.id)}
    if "profile" in scopes:
        claims["name"] = user.display_name
        if user.avatar_url:
            claims["picture"] = user.avatar_url
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


def issue_id_token(grant: Grant, access_token: str, settings: Settings, keys: KeyStore) -> str:
    if grant.user is None:
        raise ValueError("an ID token needs a person")
    issued_at = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        **profile_claims(grant.user, grant.scope),
        "iss": settings.issuer,
        "aud": grant.client.client_id,
        "iat": issued_at,
        "exp": issued_at + settings.id_token_ttl,
        "at_hash": at_hash(access_token),
    }
    if grant.auth_time is not None:
        claims["auth_time"] = int(grant.auth_time.timestamp())
    if grant.nonce:
        claims["nonce"] = grant.nonce
    if grant.session_id is not None:
        claims["sid"] = str(grant.session_id)
    if grant.auth_methods:
        claims["amr"] = list(grant.auth_methods)
    # OIDC Core §2: the multi-factor acr when a second factor was used (and so whenever a
    # client's acr_values asked for it: /authorize does not issue a code until it was).
    acr = acr_for(grant.auth_methods)
    if acr is not None:
        claims["acr"] = acr
    claims.update(grant.id_claims)
    return keys.sign(claims, typ="JWT")
