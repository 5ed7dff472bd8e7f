"""The errors a resource server acts on, each with the status and RFC 6750 code it answers."""

from __future__ import annotations

from collections.abc import Collection

BEARER = "Bearer"
DPOP = "DPoP"


class AuthserverError(Exception):
    """Base of every error this package raises."""


class TokenRefused(AuthserverError):
    """The request's token does not let it through; `status` and `error` are RFC 6750's.
    `scheme` is the one the token came with, so the challenge answers in it (RFC 9449 §7.2:
    the mechanism the client used delivers the error); `algs` are the DPoP proof algorithms
    a DPoP challenge names (§7.1)."""

    status = 401
    error = "invalid_token"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        self.scheme = BEARER
        self.algs: tuple[str, ...] = ()

    def presented_as_dpop(self, algs: Collection[str]) -> None:
        """This refusal answers a request that used the DPoP scheme."""
        self.scheme = DPOP
        self.algs = tuple(algs)

    def offer_dpop(self, algs: Collection[str]) -> None:
        """The route takes DPoP-bound tokens too: a request without credentials learns of
        both schemes (RFC 9449 §7.2), and which proof algorithms the DPoP one accepts."""
        self.algs = tuple(algs)


class MissingToken(TokenRefused):
    """RFC 6750 §3.1: no credentials at all get a bare challenge, without an error code."""

    error = ""


class InvalidToken(TokenRefused):
    """Malformed, badly signed, for another audience or issuer, expired, or revoked; or
    presented with the wrong scheme for its binding (RFC 9449 §7.1, §7.2)."""


class InvalidDPoPProof(TokenRefused):
    """The DPoP proof sent with a DPoP-bound token fails a check of RFC 9449 §4.3, or is
    missing, or is signed by another key than the token is bound to (§7.1)."""

    error = "invalid_dpop_proof"


class InsufficientScope(TokenRefused):
    """A valid token without the scope, role or permission the route needs (RFC 6750 §3.1)."""

    status = 403
    error = "insufficient_scope"

    def __init__(self, description: str, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope


class CannotDecide(AuthserverError):
    """Something the decision needs is out of reach: the request cannot be decided now,
    which is a 503 with Retry-After, not the caller's fault and not a refusal."""


class IssuerUnavailable(CannotDecide):
    """authserver could not be reached (or answered nonsense) and nothing cached can stand in:
    the request cannot be decided now, which is a 503, not a refusal."""


class ReplayCacheUnavailable(CannotDecide):
    """The store of DPoP proofs seen cannot say whether a proof is new (a shared store is
    unreachable, or the in-memory one is full): accepting could let a replay through."""
