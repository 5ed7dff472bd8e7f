"""/userinfo (OIDC Core §5.3): the claims a person's access token allows, behind Authlib's
ResourceProtector with a validator for our JWT access tokens."""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Response, abort, request

from authserver.mfa.amr import is_multi_factor
from authserver.oauth import claims, dpop
from authserver.oauth.endpoints import AccessToken, find_access_token
from authserver.oauth.tokens import profile_claims


class DPoPRefusal(OAuth2Error):
    """RFC 9449 §7.1: 401 with the DPoP challenge (and §9: a nonce when one is needed)."""

    status_code = 401

    def __init__(self, refused: dpop.ProofRefused) -> None:
        super().__init__(description=refused.description, error=refused.error)
        self.refused = refused

    def get_headers(self) -> list[tuple[str, str]]:
        headers = [("WWW-Authenticate", dpop.challenge(self.refused))]
        return headers + list(dpop.nonce_headers(self.refused).items())


class AccessTokenValidator(BearerTokenValidator):
    """Bearer tokens; a DPoP-bound one is refused here (RFC 9449 §7.2)."""

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return find_access_token(token_string)

    def validate_token(self, token: AccessToken | None, scopes: Any, request_: Any) -> None:
        super().validate_token(token, scopes, request_)
        raw = request.headers.get("Authorization", "").split(None, 1)[1]
        try:
            dpop.check_presentation(self.TOKEN_TYPE, raw.strip(), token.claims)
        except dpop.ProofRefused as refused:
            raise DPoPRefusal(refused) from None


class DPoPAccessTokenValidator(AccessTokenValidator):
    """`Authorization: DPoP <token>` with a proof by the token's key (RFC 9449 §7.1)."""

    TOKEN_TYPE = "dpop"


RFC6750_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_token",
        "insufficient_scope",
        "invalid_dpop_proof",
        "use_dpop_nonce",
    }
)


class BearerProtector(ResourceProtector):
    def raise_error_response(self, error: OAuth2Error) -> None:
        """Answer in RFC 6750 §3 terms. Authlib reports a missing or non-Bearer header with
        codes of its own and no WWW-Authenticate; RFC 6750 wants the Bearer challenge,
        without an error code when no token was sent."""
        if error.error in RFC6750_ERRORS:
            status, body, headers = error.status_code, dict(error.get_body()), error.get_headers()
        else:
            status = 401
            body = {"error": "invalid_token", "error_description": "A Bearer token is required."}
            headers = [("WWW-Authenticate", 'Bearer realm="authserver"')]
        headers = [(k, v) for k, v in headers if k not in ("Cache-Control", "Content-Type")]
        headers += [("Cache-Control", "no-store"), ("Content-Type", "application/json")]
        abort(Response(json.dumps(body), status=status, headers=headers))


require_token = BearerProtector()
require_token.register_token_validator(AccessTokenValidator())
require_token.register_token_validator(DPoPAccessTokenValidator())


def userinfo_claims(token: AccessToken) -> dict[str, Any] | None:
    """None when the token is not a person's (a service's client_credentials token). Any
    audience will do: OIDC Core §5.3 serves the token of an OpenID request, whatever
    `resource` narrowed it to."""
    if token.person_id() is None or token.family is None:
        return None
    user = token.family.user  # person_id() is the family's person
    if not user.is_active:
        return None
    found = profile_claims(user, token.get_scope())
    if "orgs" in token.get_scope().split():
        methods = token.family.auth_methods
        found.update(
            claims.orgs_claims(user.id, _service_of(token), multi_factor=is_multi_factor(methods))
        )
    return found


def _service_of(token: AccessToken) -> str | None:
    """A token narrowed to one service (RFC 8707) shows only that service's roles here too."""
    audience = token.claims.get("aud")
    return audience if audience != token.claims.get("client_id") else None
