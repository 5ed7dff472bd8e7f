"""Pushed Authorization Requests (RFC 9126): /par and the request_uri that /authorize
resolves.

Hand-written: Authlib 1.9 has no PAR endpoint. It is built from Authlib's parts: the client
authenticates as at /token (server.authenticate_client), and the pushed parameters go
through the very validation of /authorize (server.get_consent_grant with AUTHORIZE_CHECKS),
so a request that /authorize would refuse is refused here, as JSON.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Response

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import OAuthClient, PendingAuthorization, PushedAuthorizationRequest
from authserver.models.clients import AUTH_METHODS
from authserver.oauth import pending
from authserver.oauth.checks import InvalidTargetError

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"  # RFC 9126 §2.2
# Client authentication is not an authorization parameter: it is not stored or re-validated.
CLIENT_AUTHENTICATION = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


class PushedAuthorizationEndpoint:
    """POST /par (RFC 9126 §2): authenticate, validate as /authorize, store, answer 201."""

    ENDPOINT_NAME = "pushed_authorization"

    def __init__(self, server: Any) -> None:
        self.server = server

    def create_endpoint_request(self, request: object) -> OAuth2Request:
        return self.server.create_oauth2_request(request)

    def __call__(self, request: OAuth2Request) -> tuple[int, dict[str, Any], list]:
        client: OAuthClient = self.server.authenticate_client(
            request, list(AUTH_METHODS), self.ENDPOINT_NAME
        )
        params = self._authorization_parameters(request, client)
        self._validate(request, params)
        raw = new_secret()
        now, ttl = utcnow(), current_settings().par_ttl
        db.session.add(
            PushedAuthorizationRequest(
                request_uri_hash=sha256_hex(REQUEST_URI_PREFIX + raw),
                client_id=client.client_id,
                params=params,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        db.session.flush()
        body = {"request_uri": REQUEST_URI_PREFIX + raw, "expires_in": ttl}
        return 201, body, default_json_headers

    def _authorization_parameters(
        self, request: OAuth2Request, client: OAuthClient
    ) -> dict[str, str]:
        form = request.form
        if "request_uri" in form:  # RFC 9126 §2.1
            raise InvalidRequestError("A pushed request must not carry a request_uri.")
        if "request" in form:
            raise InvalidRequestError("Request objects are not supported; push the parameters.")
        if form.get("client_id", client.client_id) != client.client_id:
            raise InvalidRequestError("The client_id does not match the authenticated client.")
        if len(form.getlist("resource")) > 1:  # stored one value per name, as /authorize parks
            raise InvalidTargetError("Ask for one resource at a time.")
        params = {name: form[name] for name in form if name not in CLIENT_AUTHENTICATION}
        params["client_id"] = client.client_id
        return params

    def _validate(self, request: OAuth2Request, params: dict[str, str]) -> None:
        """/authorize's validation; its errors answered here as JSON, never redirected."""
        pushed = pending.ParkedRequest(params, request.uri, request.headers, pushed=True)
        try:
            self.server.get_consent_grant(request=pushed, end_user=None)
        except OAuth2Error as error:
            error.redirect_uri, error.state = None, None
            raise


def resolve(request_uri: str, client_id: str | None) -> PendingAuthorization | Response:
    """RFC 9126 §4: /authorize with request_uri and client_id. The request_uri is used once,
    by the client it was pushed by, before it expires; its parameters are then parked as
    any request is, and run through every /authorize check again."""
    found = PushedAuthorizationRequest.find(request_uri) if request_uri else None
    if found is None or not found.is_usable() or found.client_id != client_id:
        db.session.commit()  # releases the row lock; nothing was changed
        return _refused()
    found.used_at = utcnow()
    return pending.park(found.params, found.client_id, pushed=True)


def _refused() -> Response:
    # No redirect: the redirect URI this request would go back to is not known to be the
    # client's (RFC 6749 §4.1.2.1). The error name is OIDC Core §3.1.2.6's.
    page, status = render_error_page(
        "This sign-in link is not valid",
        "The request expired or was already used (invalid_request_uri). "
        "Go back to the app and try again.",
        status=400,
    )
    return Response(page, status=status, mimetype="text/html")
