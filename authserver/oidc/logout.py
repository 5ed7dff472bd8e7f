"""RP-Initiated Logout 1.0 on Authlib's EndSessionEndpoint: ends our session and what it
issued, and redirects only to a registered post_logout_redirect_uri."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as AuthlibEndSessionEndpoint
from joserfc.jwk import KeySet

from authserver.config import current_settings
from authserver.identity import sessions
from authserver.keys import ALGORITHMS, current_key_store
from authserver.oauth.families import RevocationReason
from authserver.oauth.parameters import check_parameter_lengths


class EndSessionEndpoint(AuthlibEndSessionEndpoint):
    def validate_request(self, request: OAuth2Request) -> Any:
        check_parameter_lengths(request.payload.data)  # the rule of every OAuth endpoint
        return super().validate_request(request)

    def get_server_jwks(self) -> KeySet:
        return KeySet.import_key_set(current_key_store().jwks())

    def get_algorithms(self) -> list[str]:
        return list(ALGORITHMS)

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        claims = super()._validate_id_token_hint(id_token_hint)
        # Our access tokens are signed by the same keys: only an ID token of ours is a hint.
        if claims.get("iss") != current_settings().issuer or "scope" in claims:
            raise InvalidRequestError("id_token_hint is not an ID token of this server.")
        return claims

    def end_session(self, end_session_request: Any) -> None:
        session = sessions.current()
        if session is not None:
            sessions.end(session, reason=RevocationReason.LOGOUT)
