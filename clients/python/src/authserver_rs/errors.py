"""The errors a resource server acts on, each with the status and RFC 6750 code it answers."""

from __future__ import annotations


class AuthserverError(Exception):
    """Base of every error this package raises."""


class TokenRefused(AuthserverError):
    """The request's token does not let it through; `status` and `error` are RFC 6750's."""

    status = 401
    error = "invalid_token"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class MissingToken(TokenRefused):
    """RFC 6750 §3.1: no credentials at all get a bare challenge, without an error code."""

    error = ""


class InvalidToken(TokenRefused):
    """Malformed, badly signed, for another audience or issuer, expired, or revoked."""


class InsufficientScope(TokenRefused):
    """A valid token without the scope, role or permission the route needs (RFC 6750 §3.1)."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope


class IssuerUnavailable(AuthserverError):
    """authserver could not be reached (or answered nonsense) and nothing cached can stand in:
    the request cannot be decided now, which is a 503, not a refusal."""
