"""RFC 8693 token exchange at /token: an API key (subject_token) becomes a short-lived
access token, optionally for one service (`resource`, RFC 8707) and with fewer scopes.

Authlib 1.9 ships `authlib.oauth2.rfc8693` as an empty package, so the grant is built on its
BaseGrant and TokenEndpointMixin (client authentication, hooks, error rendering) like the
others; only the RFC 8693 §2.1 parameters are checked here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked

from authserver import audit, ratelimits
from authserver.clock import utcnow
from authserver.credentials import api_keys
from authserver.models import ApiKey
from authserver.models.clients import AUTH_METHODS, TOKEN_EXCHANGE
from authserver.oauth.checks import check_resource
from authserver.oauth.claims import role_claims
from authserver.oauth.grants import token_response, with_org_claims
from authserver.oauth.parameters import normalize_scope
from authserver.oauth.tokens import API_KEY, ORGANIZATION, Grant

# RFC 8693 §3: a token type URI of ours names what the subject_token is.
API_KEY_TOKEN_TYPE = "urn:authserver:params:oauth:token-type:api-key"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
KEY_LIMIT = "60 per minute;1000 per hour"  # per key, counted once the key is known
UNSUPPORTED = ("actor_token", "actor_token_type", "audience")


class KeyThrottled(OAuth2Error):
    """Too many exchanges with one key: 429 with Retry-After, in RFC 6749 §5.2's shape."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, wait: int) -> None:
        super().__init__("Too many exchanges with this key; see Retry-After.")
        self.wait = wait

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.wait))]


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    # The key is the credential; the client (public ones too) says which app asks.
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use token exchange.")
        data = self.request.payload.data
        if data.get("subject_token_type") != API_KEY_TOKEN_TYPE:
            raise InvalidRequestError(f"subject_token_type must be {API_KEY_TOKEN_TYPE}.")
        if data.get("requested_token_type") not in (None, ACCESS_TOKEN_TYPE):
            raise InvalidRequestError(f"requested_token_type must be {ACCESS_TOKEN_TYPE}.")
        for name in UNSUPPORTED:
            if name in data:
                raise InvalidRequestError(f"{name} is not supported; use resource to name one.")
        raw = data.get("subject_token")
        if not raw:
            raise InvalidRequestError("Missing subject_token.")
        key = api_keys.find_usable(raw, utcnow())
        if key is None:
            raise InvalidGrantError("The API key is invalid, expired or revoked.")
        if wait := ratelimits.reserve(KEY_LIMIT, "api-key", str(key.id)):
            raise KeyThrottled(wait)
        check_resource(self.request)
        self.request.client = client
        self.request.api_key = key

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        key: ApiKey = self.request.api_key
        resources = self.request.payload.datalist.get("resource", [])
        service = resources[0] if resources else None
        grant = (
            self._org_grant(key, service) if key.is_org_key else self._person_grant(key, service)
        )
        self._note_use(key)
        body = token_response(grant, None)
        body["issued_token_type"] = ACCESS_TOKEN_TYPE  # RFC 8693 §2.2.1
        return 200, body, self.TOKEN_RESPONSE_HEADER

    def _scope(self, allowed: set[str]) -> str:
        requested = self.request.payload.scope
        if requested and not set(requested.split()) <= allowed:
            raise InvalidScopeError("The key may not grant some of these scopes.")
        return normalize_scope(requested or " ".join(sorted(allowed)))

    def _person_grant(self, key: ApiKey, service: str | None) -> Grant:
        grant = Grant(
            client=self.request.client,
            scope=self._scope(set(key.scopes) & set(self.request.client.scopes)),
            user=key.user,
            audience=service or self.request.client.client_id,
        )
        with_claims = with_org_claims(grant, None, service)
        return dataclasses.replace(
            with_claims, access_claims={**with_claims.access_claims, **_acting(key)}
        )

    def _org_grant(self, key: ApiKey, service: str | None) -> Grant:
        organization = key.organization
        claims = {
            "org_id": str(organization.id),
            "org_slug": organization.slug,
            **role_claims(ApiKey.grants_of(key.id), service),
            **_acting(key),
        }
        return Grant(
            client=self.request.client,
            scope=self._scope(set()),
            audience=service or self.request.client.client_id,
            subject=(str(organization.id), ORGANIZATION),
            access_claims=claims,
        )

    def _note_use(self, key: ApiKey) -> None:
        now = utcnow()
        if not api_keys.is_use_to_record(key, now):
            return
        key.update_row(last_used_at=now)
        audit.record(
            "api_key.used",
            actor_client_id=self.request.client.client_id,
            actor_user_id=key.user_id,
            organization_id=key.organization_id,
            target_type="api_key",
            target_id=str(key.id),
        )


def _acting(key: ApiKey) -> dict[str, Any]:
    """RFC 8693 §4.1: `act` names the key acting for `sub`; `api_key` says which one."""
    return {
        "act": {"sub": str(key.id), "sub_kind": API_KEY},
        "api_key": {"id": str(key.id), "prefix": key.prefix, "name": key.name},
    }
