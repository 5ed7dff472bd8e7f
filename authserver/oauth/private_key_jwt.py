"""private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): Authlib's
JWTBearerClientAssertion with our keys, audiences, lifetime bound and replay store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.jwk import GuestProtocol, KeySet

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.models import OAuthClient, UsedClientAssertion
from authserver.oauth.client_jwks import JWKSUnavailable, public_keys_of

log = logging.getLogger(__name__)

METHOD = "private_key_jwt"
# Advertised as token_endpoint_auth_signing_alg_values_supported: asymmetric only.
SIGNING_ALGORITHMS = ("RS256", "ES256")  # what joserfc verifies by default
# An assertion is for one request: one that claims a longer life is refused, so that the
# replay store never has to remember a jti for long (RFC 7523 §3 item 4 lets us bound exp).
# An hour, as Okta allows: Authlib's own client signs assertions that live that long.
MAX_LIFETIME = 3600
MAX_JTI_LENGTH = 255
# Where an assertion may be addressed besides the issuer (RFC 7523 §3 item 3; RFC 9126 §2).
AUDIENCE_PATHS = ("/token", "/par", "/revoke", "/introspect", "/device_authorization")


class AssertionRefused(InvalidClientError):
    """A client assertion was refused; its description says why (client_auth.py keeps it)."""

    status_code = 401


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = METHOD

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=30)

    def __call__(self, query_client: Any, request: Any) -> OAuthClient | None:
        try:
            client = super().__call__(query_client, request)
        except AssertionRefused:
            raise
        except InvalidClientError as error:
            raise AssertionRefused(description=error.description) from None
        named = request.payload.client_id
        if client is not None and named and named != client.client_id:
            # RFC 7521 §4.2: a client_id beside the assertion names the same client.
            raise AssertionRefused(description="The client_id is not the assertion's subject.")
        return client

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        if headers.get("alg") not in SIGNING_ALGORITHMS:
            raise AssertionRefused(
                description="The assertion must be signed with " + ", ".join(SIGNING_ALGORITHMS)
            )
        return headers, claims

    def get_audiences(self) -> list[str]:
        issuer = current_settings().issuer
        return [issuer] + [issuer + path for path in AUDIENCE_PATHS]

    def resolve_client_public_key(self, client: OAuthClient) -> Callable[[GuestProtocol], KeySet]:
        """A resolver rather than the keys: joserfc calls it with the assertion's header, so
        a `kid` the kept keys lack can fetch the client's jwks_uri again (client_jwks.py)."""

        def keys_for(assertion: GuestProtocol) -> KeySet:
            kid = assertion.headers().get("kid")
            try:
                return public_keys_of(client, kid=kid if isinstance(kid, str) else None)
            except JWKSUnavailable as error:
                log.warning("keys of client %s unavailable: %s", client.client_id, error)
                raise AssertionRefused(
                    description="The client's public keys are unavailable."
                ) from None

        return keys_for

    def verify_claims(self, claims: jwt.Claims) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise AssertionRefused(description="The assertion's exp must be a whole number.")
        if exp > utcnow().timestamp() + MAX_LIFETIME + self.leeway:
            raise AssertionRefused(
                description=f"The assertion may live at most {MAX_LIFETIME} seconds."
            )
        jti = claims.get("jti")
        if jti is not None and (not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH):
            raise AssertionRefused(description="The assertion's jti is invalid.")
        super().verify_claims(claims)  # iss, sub, aud, exp; then validate_jti

    def validate_jti(self, claims: jwt.Claims, jti: str) -> bool:
        """RFC 7523 §3 item 7: refused when seen before, remembered until it expires. The
        store is the database, so every instance knows what another accepted."""
        expires_at = datetime.fromtimestamp(claims["exp"] + self.leeway, UTC)
        return UsedClientAssertion.record_first_use(claims["sub"], jti, expires_at)
