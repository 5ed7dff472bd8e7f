"""Authlib grant subclasses: we fill its hooks and issue our own JWTs, families and rotation."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import uuid
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import g

from authserver import audit
from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.identity import sessions
from authserver.keys import current_key_store
from authserver.mfa.amr import is_multi_factor
from authserver.models import AuthorizationCode, GrantFamily, OAuthClient
from authserver.models.clients import AUTH_METHODS, CONFIDENTIAL_AUTH_METHODS
from authserver.oauth import claims, dpop, families, store
from authserver.oauth.families import RevocationReason
from authserver.oauth.parameters import normalize_scope
from authserver.oauth.resources import token_resource
from authserver.oauth.scopes import SERVICE_SCOPES
from authserver.oauth.tokens import (
    API_AUDIENCE,
    Grant,
    issue_access_token,
    issue_id_token,
    scopes_of,
)

log = logging.getLogger(__name__)


class S256CodeChallenge(CodeChallenge):
    """Stricter than RFC 9700 §2.1.1: every client uses PKCE, and only S256."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class OrganizationRefused(InvalidGrantError):
    """The grant's organization no longer admits the person. `reason` is what a refresh
    revokes the family with: MEMBERSHIP_REMOVED, or SECOND_FACTOR_REQUIRED when the person is
    still a member but the org now asks for a second factor the grant's sign-in lacked."""

    def __init__(self, description: str, reason: RevocationReason) -> None:
        super().__init__(description)
        self.reason = reason


def with_org_claims(grant: Grant, organization_id: uuid.UUID | None, service: str | None) -> Grant:
    """Read the organization claims the grant carries (DESIGN "Tokens and claims"); a
    refresh calls this again, so a changed membership shows in the next token. A
    `service` (RFC 8707 resource) narrows roles and permissions to that service."""
    if grant.user is None:
        return grant
    extra: dict[str, Any] = {}
    multi_factor = is_multi_factor(grant.auth_methods)
    if "orgs" in scopes_of(grant.scope):
        extra.update(claims.orgs_claims(grant.user.id, service, multi_factor=multi_factor))
    access_extra = dict(extra)
    if organization_id is not None:
        try:
            scoped = claims.organization_scoped(
                grant.user.id, organization_id, service, multi_factor=multi_factor
            )
        except claims.SecondFactorRequired:
            raise OrganizationRefused(
                "The organization requires a second factor: sign in again.",
                RevocationReason.SECOND_FACTOR_REQUIRED,
            ) from None
        if scoped is None:
            raise OrganizationRefused(
                "The person is no longer a member of that organization.",
                RevocationReason.MEMBERSHIP_REMOVED,
            )
        access_extra.update(scoped)
    return dataclasses.replace(grant, access_claims=access_extra, id_claims=extra)


def token_response(grant: Grant, refresh_token: str | None) -> dict[str, Any]:
    """RFC 6749 §5.1, with an OIDC id_token when `openid` was granted to a person."""
    settings, keys = current_settings(), current_key_store()
    if grant.user is not None:
        g.user_id = grant.user.id  # for the request log line
    access_token = issue_access_token(grant, settings, keys)
    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "DPoP" if grant.dpop_jkt else "Bearer",  # RFC 9449 §5
        "expires_in": settings.access_token_ttl,
        "scope": grant.scope,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if grant.user is not None and "openid" in scopes_of(grant.scope):
        body["id_token"] = issue_id_token(grant, access_token, settings, keys)
    return body


def dpop_key(client: OAuthClient) -> str | None:
    """The thumbprint of the DPoP key this token request proved (RFC 9449 §5; the proof was
    checked by the server before the grant ran), None without a proof."""
    proof = dpop.token_request_proof()
    if proof is None and client.dpop_bound_access_tokens:
        # RFC 9449 §5.2: the client registered dpop_bound_access_tokens.
        raise InvalidRequestError("This client must send a DPoP proof.")
    return proof.jkt if proof else None


def family_grant(
    family: GrantFamily | store.Family,
    client: OAuthClient,
    scope: str,
    nonce: str | None = None,
    service: str | None = None,
    dpop_jkt: str | None = None,
) -> Grant:
    return Grant(
        dpop_jkt=dpop_jkt,
        audience=service,
        client=client,
        scope=scope,
        user=family.user,
        family_id=family.id,
        session_id=family.session_id,
        auth_time=family.auth_time,
        auth_methods=tuple(family.auth_methods),
        nonce=nonce,
    )


def may_refresh(client: OAuthClient, scope: str) -> bool:
    """A refresh token goes to a client allowed the grant, for a person who granted
    offline_access (OIDC Core §11)."""
    return client.check_grant_type("refresh_token") and "offline_access" in scopes_of(scope)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Store the code's SHA-256 with everything the token exchange must bind to."""
        session = sessions.current()
        if session is None:  # the view only issues codes to a signed-in person
            raise InvalidRequestError("There is no signed-in person.")
        now, payload = utcnow(), request.payload
        db.session.add(
            AuthorizationCode(
                code_hash=sha256_hex(code),
                client_id=request.client.id,
                user_id=request.user.id,
                session_id=session.id,
                redirect_uri=payload.redirect_uri or "",
                scope=normalize_scope(payload.scope),
                code_challenge=payload.data["code_challenge"],
                code_challenge_method="S256",
                nonce=payload.data.get("nonce"),
                organization_id=getattr(request, "organization_id", None),
                resources=[payload.data["resource"]] if payload.data.get("resource") else [],
                auth_time=session.auth_time,
                auth_methods=list(session.auth_methods),
                created_at=now,
                expires_at=now + timedelta(seconds=current_settings().code_ttl),
            )
        )
        db.session.flush()

    def query_authorization_code(self, code: str, client: OAuthClient) -> store.Code | None:
        found = store.code_locked(sha256_hex(code))
        if found is None or found.client_id != client.id:
            return None
        if found.used_at is not None:
            self._revoke_replayed(found, client)
            raise InvalidGrantError("The authorization code was already used.")
        if utcnow() >= found.expires_at:
            return None
        return found

    def _revoke_replayed(self, code: store.Code, client: OAuthClient) -> None:
        # RFC 6749 §4.1.2 and RFC 9700 §4.2.4: a replayed code revokes what its first use issued.
        audit.record(
            "code.replayed",
            outcome="failure",
            actor_client_id=client.client_id,
            target_type="grant_family" if code.family_id else None,
            target_id=str(code.family_id) if code.family_id else None,
        )
        if code.family_id is not None:
            families.revoke(
                code.family_id,
                RevocationReason.CODE_REPLAY,
                utcnow(),
                actor_client_id=client.client_id,
            )

    def authenticate_user(self, authorization_code: store.Code) -> store.Person | None:
        user = authorization_code.user
        return user if user.is_active else None

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: store.Code = self.request.authorization_code
        client: OAuthClient = self.request.client
        service = token_resource(self.request.payload.datalist.get("resource", []), code.resources)
        jkt = dpop_key(client)
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The authorization code is invalid.")
        if code.organization_id and not store.is_member(user.id, code.organization_id):
            raise InvalidGrantError("The person is no longer a member of that organization.")
        now, settings = utcnow(), current_settings()
        family = store.Family(
            id=uuid.uuid4(),
            client_id=client.id,
            user_id=user.id,
            session_id=code.session_id,
            organization_id=code.organization_id,
            scope=code.scope,
            resources=list(code.resources),
            auth_time=code.auth_time,
            auth_methods=list(code.auth_methods),
            expires_at=now + timedelta(seconds=settings.refresh_token_absolute_ttl),
            revoked_at=None,
            # RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key; a
            # confidential client's are bound to its authentication already.
            dpop_jkt=jkt if client.is_public else None,
            user=user,
        )
        # The organization's claims (and its second-factor rule) first: an exchange they
        # refuse leaves the code unused and starts no family.
        grant = with_org_claims(
            family_grant(family, client, code.scope, code.nonce, service, jkt),
            family.organization_id,
            service,
        )
        refresh_raw, link = None, None
        if may_refresh(client, code.scope):
            refresh_raw, link = families.new_link(family, settings, now)
        # Authlib would delete the code; it is marked used instead, with the family it started,
        # so that a replay is recognised and revokes that family.
        try:
            store.redeem_code(code.id, family, link, now)
        except store.LostRace:
            # Redeemed by a concurrent request between our read and our write: keep
            # nothing of this one (the locked read makes this a last line of defence).
            db.session.rollback()
            raise InvalidGrantError("The authorization code was already used.") from None
        body = token_response(grant, refresh_raw)
        return 200, body, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def _validate_request_token(self, client: OAuthClient) -> store.RefreshLink:
        raw = self.request.form.get("refresh_token")
        if not raw:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        token = store.refresh_link_locked(sha256_hex(raw))
        if token is None:
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.")
        self.request.presented_refresh_token = raw
        return token

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: store.RefreshLink = self.request.refresh_token
        client: OAuthClient = self.request.client
        # Checked before rotating: a refused request leaves the refresh token usable.
        service = token_resource(
            self.request.payload.datalist.get("resource", []), token.family.resources
        )
        jkt = dpop_key(client)
        bound = token.family.dpop_jkt
        if bound is not None and (jkt is None or not hmac.compare_digest(jkt, bound)):
            # RFC 9449 §5: a bound refresh token is used only with a proof by its key.
            raise InvalidGrantError("The refresh token is bound to another DPoP key.")
        try:
            successor = families.rotate(
                self.request.presented_refresh_token, token, client, current_settings(), utcnow()
            )
        except families.RefreshRefused as refused:
            self._record_refusal(token, client, refused.reason)
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.") from None
        family = token.family
        if not family.user.is_active:
            families.revoke(family.id, RevocationReason.USER_DISABLED, utcnow())
            raise InvalidGrantError("The refresh token is invalid, expired or revoked.")
        # RFC 6749 §6: Authlib has refused a scope wider than the token's; a narrower one
        # is this response's only, and the family keeps what was granted.
        scope = normalize_scope(self.request.payload.scope or family.scope)
        try:
            grant = with_org_claims(
                family_grant(family, client, scope, service=service, dpop_jkt=jkt),
                family.organization_id,
                service,
            )
        except OrganizationRefused as refused:
            families.revoke(family.id, refused.reason, utcnow())
            raise
        body = token_response(grant, successor)
        return 200, body, self.TOKEN_RESPONSE_HEADER

    def _record_refusal(self, token: store.RefreshLink, client: OAuthClient, reason: str) -> None:
        log.info("refresh refused for family %s: %s", token.family_id, reason)
        audit.record(
            "token.refresh_refused",
            outcome="failure",
            actor_client_id=client.client_id,
            target_type="grant_family",
            target_id=str(token.family_id),
            reason=reason,
        )


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """For service clients only (DESIGN); no refresh token, no family, nothing written."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(CONFIDENTIAL_AUTH_METHODS)

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client: OAuthClient = self.request.client
        if client.service_name is None:
            raise UnauthorizedClientError("Only service clients may use client_credentials.")
        # A service acts as itself: person scopes never reach its token, also for a client
        # registered before registration refused them (DESIGN "Boundaries").
        allowed = set(client.scopes) & SERVICE_SCOPES
        requested = self.request.payload.scope
        if requested and not set(requested.split()) <= allowed:
            raise InvalidScopeError("The client may not request some of these scopes.")
        scope = normalize_scope(requested or " ".join(sorted(allowed)))
        # RFC 8707 §2: a service's own token is for our API only; naming any other
        # resource is invalid_target, not silently ignored.
        token_resource(self.request.payload.datalist.get("resource", []), [API_AUDIENCE])
        body = token_response(Grant(client=client, scope=scope, dpop_jkt=dpop_key(client)), None)
        return 200, body, self.TOKEN_RESPONSE_HEADER
