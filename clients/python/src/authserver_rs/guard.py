"""A request's token (Bearer, or DPoP with its proof) against a route's requirement, and the
RFC 6750 / RFC 9449 challenge that a refusal answers with: the framework-neutral core of the
Flask and FastAPI integrations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from authserver_rs.claims import AccessToken
from authserver_rs.dpop import DPoPRequest
from authserver_rs.errors import DPOP, InsufficientScope, MissingToken, TokenRefused
from authserver_rs.verifier import Verifier

# RFC 6750 §3: error_description and scope are quoted strings of %x20-21 / %x23-5B / %x5D-7E.
UNQUOTABLE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
RETRY_AFTER = "5"  # seconds, when authserver cannot be reached to decide


@dataclass(frozen=True)
class Requirement:
    """What a route needs: any of these left None is not checked. `role` and `permission` are
    this service's (`clerk`, `invoice:write`) or fully named (`billing:invoice:write`)."""

    scope: str | None = None
    role: str | None = None
    permission: str | None = None
    subject_kind: str | None = None  # e.g. claims.PERSON: no service token may pass

    def check(self, token: AccessToken, org: str | None) -> None:
        if self.scope is not None and not token.has_scope(self.scope):
            raise InsufficientScope(f"The token lacks the {self.scope} scope.", scope=self.scope)
        if self.subject_kind is not None and token.subject_kind != self.subject_kind:
            raise InsufficientScope(f"This route is for a {self.subject_kind}'s token.")
        where = f" in {org}" if org else ""
        if self.role is not None and not token.has_role(self.role, org=org):
            raise InsufficientScope(
                f"The token does not hold the role {self.role}{where}.{_hint(token, org)}"
            )
        if self.permission is not None and not token.has_permission(self.permission, org=org):
            raise InsufficientScope(
                f"The token lacks the permission {self.permission}{where}.{_hint(token, org)}"
            )


def _hint(token: AccessToken, org: str | None) -> str:
    """What the client can do when the `orgs` claim was cut before `org`."""
    if org is None or not token.lacks_orgs(org):
        return ""
    return f" Its orgs claim is cut at its size bound: ask for a token with organization={org}."


def bearer_token(authorization: str | None) -> str:
    """RFC 6750 §2.1: `Authorization: Bearer <token>`, the scheme in any case."""
    scheme, token = credentials(authorization)
    if scheme != "bearer":
        raise MissingToken("A Bearer access token is required.")
    return token


def credentials(authorization: str | None) -> tuple[str, str]:
    """The scheme (lower case) and token of `Authorization: Bearer <token>` (RFC 6750 §2.1)
    or `Authorization: DPoP <token>` (RFC 9449 §7.1), the scheme in any case. Anything else
    is no credentials at all."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        raise MissingToken("A Bearer access token is required.")
    return scheme, value.strip()


def authorize(
    verifier: Verifier,
    authorization: str | None,
    requirement: Requirement,
    *,
    org: str | None = None,
    live: bool | None = None,
    request: DPoPRequest | None = None,
) -> AccessToken:
    """The verified token if it meets the requirement; TokenRefused (401/403) otherwise.
    `request` (method, URL and DPoP headers) lets a DPoP-bound token in with its proof;
    without it the DPoP scheme is not accepted at all, as before DPoP was supported."""
    try:
        scheme, raw = credentials(authorization)
    except MissingToken as missing:
        if request is not None:
            missing.offer_dpop(verifier.dpop.algorithms)
        raise
    if scheme == "bearer":
        token = verifier.verify(raw, live=live)
        requirement.check(token, org)
        return token
    if request is None:
        raise MissingToken("A Bearer access token is required.")
    try:
        token = verifier.verify_dpop(raw, request, live=live)
        requirement.check(token, org)
    except TokenRefused as refusal:
        refusal.presented_as_dpop(verifier.dpop.algorithms)
        raise
    return token


def challenge(refusal: TokenRefused, realm: str) -> str:
    """The WWW-Authenticate value of a refusal: RFC 6750 §3 for Bearer; for a token sent
    with the DPoP scheme, RFC 9449 §7.1's DPoP challenge with the proof algorithms; for no
    credentials where DPoP is taken too, both challenges in one value (§7.2, RFC 9110
    §11.6.1), the Bearer one first."""
    parts = [f'{refusal.scheme} realm="{_quoted(realm)}"']
    if refusal.scheme == DPOP:
        parts.append(f'algs="{" ".join(refusal.algs)}"')
    if refusal.error:
        parts.append(f'error="{refusal.error}"')
        parts.append(f'error_description="{_quoted(refusal.description)}"')
    if isinstance(refusal, InsufficientScope) and refusal.scope:
        parts.append(f'scope="{_quoted(refusal.scope)}"')
    if refusal.scheme != DPOP and refusal.algs:
        parts.append(f'{DPOP} realm="{_quoted(realm)}", algs="{" ".join(refusal.algs)}"')
    return ", ".join(parts)


def _quoted(value: str) -> str:
    return UNQUOTABLE.sub("", value)
