"""The device authorization grant (RFC 8628): Authlib's endpoint and grant, with our
hashed codes, polling rules and grant families.

A person approves the request on the hosted page (authserver/device/); the client polls
/token with its device code and gets the tokens of a new grant family, which rotates
and revokes like any other.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidGrantError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint as AuthlibDeviceAuthorizationEndpoint,
)
from authlib.oauth2.rfc8628 import DeviceCodeGrant as AuthlibDeviceCodeGrant
from authlib.oauth2.rfc8628 import ExpiredTokenError, SlowDownError
from authlib.oauth2.rfc8628.errors import AuthorizationPendingError

from authserver import audit
from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import DeviceAuthorization, GrantFamily, OAuthClient, User
from authserver.models.clients import AUTH_METHODS, DEVICE_CODE_GRANT_TYPE
from authserver.oauth import families
from authserver.oauth.checks import check_scope_allowed
from authserver.oauth.grants import family_grant, may_refresh, token_response, with_org_claims
from authserver.oauth.parameters import normalize_scope
from authserver.oauth.user_codes import new_user_code, normalize_user_code

log = logging.getLogger(__name__)

INTERVAL = 5  # RFC 8628 §3.2: the default the client waits between polls
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "increased by 5 seconds for this and all subsequent"
VERIFICATION_PATH = "/device"


class DeviceAuthorizationEndpoint(AuthlibDeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    INTERVAL = INTERVAL

    @property
    def EXPIRES_IN(self) -> int:  # noqa: N802 (Authlib's name)
        return current_settings().device_code_ttl

    def authenticate_client(self, request: Any) -> OAuthClient:
        """The client, allowed this grant and the scopes it asks for (as /authorize asks)."""
        client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE_GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use the device code grant.")
        check_scope_allowed(request)
        return client

    def generate_user_code(self) -> str:
        return new_user_code(DeviceAuthorization.user_code_taken)

    def get_verification_uri(self) -> str:
        return current_settings().issuer + VERIFICATION_PATH

    def save_device_credential(self, client_id: str, scope: str | None, data: dict) -> None:
        now = utcnow()
        client = self.server.query_client(client_id)
        db.session.add(
            DeviceAuthorization(
                device_code_hash=sha256_hex(data["device_code"]),
                user_code_hash=sha256_hex(normalize_user_code(data["user_code"]) or ""),
                client_id=client.id,
                scope=normalize_scope(scope),
                created_at=now,
                expires_at=now + timedelta(seconds=data["expires_in"]),
                interval=data["interval"],
                auth_methods=[],
            )
        )
        db.session.flush()


class DeviceCodeGrant(AuthlibDeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def authenticate_token_endpoint_client(self) -> OAuthClient:
        client = super().authenticate_token_endpoint_client()
        self.request.client = client  # query_device_credential compares against it
        return client

    def query_device_credential(self, device_code: str) -> DeviceAuthorization:
        found = DeviceAuthorization.find_by_device_code(device_code, for_update=True)
        client: OAuthClient = self.request.client
        if found is None:
            raise InvalidGrantError("The device code is invalid.")
        if found.client_id != client.id:
            # RFC 6749 §5.2: a grant issued to another client is invalid_grant; the owner's
            # request is untouched (nothing about it is counted or changed).
            audit.record(
                "device.code_other_client",
                outcome="failure",
                actor_client_id=client.client_id,
                target_type="device_authorization",
                target_id=str(found.id),
            )
            raise InvalidGrantError("The device code is invalid.")
        return found

    def validate_device_credential(self, credential: DeviceAuthorization) -> User:
        """RFC 8628 §3.5, in order: expired, already used, polled too fast, denied,
        approved, still pending."""
        now = utcnow()
        if credential.is_expired():
            raise ExpiredTokenError("The device code has expired; start again.")
        if credential.used_at is not None:
            raise InvalidGrantError("The device code was already used.")
        polled_at, credential.last_polled_at = credential.last_polled_at, now
        if polled_at is not None and now - polled_at < timedelta(seconds=credential.interval):
            credential.interval += SLOW_DOWN_STEP
            raise SlowDownError(f"Poll at most every {credential.interval} seconds.")
        if credential.approved is False:
            raise AccessDeniedError("The person denied the request.")
        if credential.approved is None:
            raise AuthorizationPendingError("The person has not decided yet.")
        user = credential.user
        if user is None or not user.is_active:
            raise AccessDeniedError("The person denied the request.")
        return user

    @hooked
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        credential: DeviceAuthorization = self.request.credential
        client: OAuthClient = self.request.client
        now, settings = utcnow(), current_settings()
        family = GrantFamily(
            client_id=client.id,
            user_id=credential.user_id,
            session_id=credential.session_id,
            scope=credential.scope,
            resources=[],
            auth_time=credential.auth_time,
            auth_methods=list(credential.auth_methods),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_absolute_ttl),
        )
        db.session.add(family)
        db.session.flush()
        credential.used_at, credential.family_id = now, family.id
        refresh_raw = None
        if may_refresh(client, credential.scope):
            refresh_raw = families.mint_refresh_token(family, settings, now)
        grant = with_org_claims(family_grant(family, client, credential.scope), None, None)
        return 200, token_response(grant, refresh_raw), self.TOKEN_RESPONSE_HEADER
