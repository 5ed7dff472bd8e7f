"""Revocation (RFC 7009) and introspection (RFC 7662) on Authlib's endpoints.

Both accept our two kinds of token: a refresh token (found by its hash) and a JWT access
token (verified against our keys; revoked when its family is).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    UnsupportedTokenTypeError as AuthlibUnsupportedTokenTypeError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint as AuthlibRevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as AuthlibIntrospectionEndpoint
from joserfc.errors import JoseError

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.keys import current_key_store
from authserver.models import OAuthClient, RefreshToken
from authserver.models.clients import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from authserver.oauth import families, store
from authserver.oauth.families import RevocationReason
from authserver.oauth.tokens import ACCESS_TOKEN_TYPE, PERSON, SUBJECT_KIND_CLAIM


@dataclass(frozen=True)
class AccessToken:
    """A verified JWT access token, as the endpoints see it."""

    claims: dict[str, Any]
    family: store.Family | None

    def check_client(self, client: OAuthClient) -> bool:
        return self.claims.get("client_id") == client.client_id

    def is_expired(self) -> bool:
        return utcnow().timestamp() >= self.claims["exp"]

    def is_revoked(self) -> bool:
        return self.family is not None and self.family.is_revoked

    def get_scope(self) -> str:
        return self.claims.get("scope", "")

    def is_for(self, audience: str) -> bool:
        """RFC 9068 §4: `aud` is one string or a list of them."""
        found = self.claims.get("aud")
        return audience in (found if isinstance(found, list) else [found])

    @property
    def subject_kind(self) -> str | None:
        return self.claims.get(SUBJECT_KIND_CLAIM)

    def person_id(self) -> uuid.UUID | None:
        """The person `sub` names, only when the token says it is a person's and came from
        that person's own grant family: a client id can never pass as a person's id."""
        if self.subject_kind != PERSON or self.family is None:
            return None
        try:
            user_id = uuid.UUID(str(self.claims.get("sub")))
        except ValueError:
            return None
        return user_id if self.family.user_id == user_id else None


@dataclass(frozen=True)
class PresentedRefreshToken:
    row: RefreshToken

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_id == client.id

    def is_expired(self) -> bool:
        return self.row.is_expired() or utcnow() >= self.row.family.expires_at

    def is_revoked(self) -> bool:
        # A rotated-out token is no longer usable, whatever its grace window allows a retry.
        return self.row.is_revoked() or self.row.rotated_at is not None


Presented = AccessToken | PresentedRefreshToken


def find_token(raw: str, hint: str | None) -> Presented | None:
    """Look the token up as the hint says first, then as the other kind (RFC 7009 §2.1)."""
    order = (
        ("refresh_token", "access_token")
        if hint == "refresh_token"
        else ("access_token", "refresh_token")
    )
    for kind in order:
        found = find_access_token(raw) if kind == "access_token" else _find_refresh_token(raw)
        if found is not None:
            return found
    return None


def _find_refresh_token(raw: str) -> PresentedRefreshToken | None:
    row = RefreshToken.find(raw)
    return PresentedRefreshToken(row) if row is not None else None


def find_access_token(raw: str) -> AccessToken | None:
    if raw.count(".") != 2:
        return None
    try:
        verified = current_key_store().verify(raw, remember_typ=ACCESS_TOKEN_TYPE)
    except (JoseError, ValueError):
        return None
    claims = dict(verified.claims)
    if verified.header.get("typ") != ACCESS_TOKEN_TYPE:
        return None
    if claims.get("iss") != current_settings().issuer or "exp" not in claims:
        return None
    family = None
    if "family_id" in claims:
        try:
            family = store.family_with_person(uuid.UUID(claims["family_id"]))
        except ValueError:
            return None
        if family is None:
            return None
    return AccessToken(claims, family)


class UnsupportedTokenTypeError(AuthlibUnsupportedTokenTypeError):
    """RFC 7009 §2.2.1: an error response with 400 (Authlib's is a 401, a ForbiddenError)."""

    status_code = 400
    description = "The token_type_hint is not a token type this server knows."


class RefusesUnknownHintsWith400:
    """Authlib's check_params, with our 400 unsupported_token_type (a mixin for both endpoints)."""

    def check_params(self, request: Any, client: OAuthClient) -> None:
        try:
            super().check_params(request, client)  # type: ignore[misc]
        except AuthlibUnsupportedTokenTypeError:
            raise UnsupportedTokenTypeError() from None


class RevocationEndpoint(RefusesUnknownHintsWith400, AuthlibRevocationEndpoint):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Presented | None:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: Presented, request: Any) -> None:
        """Revoking either kind revokes its whole family (DESIGN: a refresh token and every
        access token issued from it). A client_credentials token has no family: it is
        short-lived and cannot be revoked early."""
        if isinstance(token, PresentedRefreshToken):
            family_id = token.row.family_id
        elif token.family is not None:
            family_id = token.family.id
        else:
            return
        families.revoke(
            family_id,
            RevocationReason.CLIENT_REVOKED,
            utcnow(),
            actor_client_id=request.client.client_id,
        )


class IntrospectionEndpoint(RefusesUnknownHintsWith400, AuthlibIntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Presented | None:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: Presented, client: OAuthClient, request: Any) -> bool:
        """The client a token was issued to, or the service it is for, may introspect it;
        anyone else learns only `active: false`."""
        if token.check_client(client):
            return True
        if isinstance(token, AccessToken) and client.service_name:
            return token.is_for(client.service_name)
        return False

    def introspect_token(self, token: Presented) -> dict[str, Any]:
        if isinstance(token, AccessToken):
            keep = ("scope", "client_id", "sub", SUBJECT_KIND_CLAIM, "aud", "iss", "exp", "iat")
            keep += ("jti", "family_id", "cnf")  # RFC 9449 §6.2: cnf tells the RS the key
            payload = {name: token.claims[name] for name in keep if name in token.claims}
            token_type = "DPoP" if "cnf" in payload else "Bearer"
            return {"active": True, "token_type": token_type, **payload}
        row = token.row
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": row.scope,
            "client_id": row.client.client_id,
            "sub": str(row.user_id),
            SUBJECT_KIND_CLAIM: PERSON,  # refresh tokens are only ever a person's
            "iss": current_settings().issuer,
            "exp": int(min(row.expires_at, row.family.expires_at).timestamp()),
            "iat": int(row.created_at.timestamp()),
            "family_id": str(row.family_id),
        }
