"""The AuthorizationServer: Authlib's, with our clients, grants and endpoints registered."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Flask, Response, current_app
from flask import request as flask_request

from authserver.models import OAuthClient
from authserver.oauth.endpoints import IntrospectionEndpoint, RevocationEndpoint
from authserver.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from authserver.oauth.preflight import check_request
from authserver.oauth.scopes import SCOPES


class AuthorizationServer(FlaskAuthorizationServer):
    def query_client(self, client_id: str) -> OAuthClient | None:
        return OAuthClient.find(client_id)

    def create_token_response(self, request: object = None) -> Response:
        try:
            check_request(flask_request.form, flask_request.headers)
        except OAuth2Error as error:
            return self.handle_error_response(request, error)
        return super().create_token_response(request)

    def create_endpoint_response(self, name: str, request: object = None) -> Response:
        try:
            check_request(flask_request.form, flask_request.headers)
        except OAuth2Error as error:
            return self.handle_error_response(request, error)
        return super().create_endpoint_response(name, request)

    def save_token(self, token: dict, request: object) -> None:
        """Unused: our grants persist what they issue (families, refresh tokens) themselves,
        and access tokens are self-contained JWTs."""


def init_server(app: Flask) -> AuthorizationServer:
    """One server per app, kept in app.extensions (tests build several apps)."""
    app.config.setdefault("OAUTH2_SCOPES_SUPPORTED", list(SCOPES))
    server = AuthorizationServer(app)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    app.extensions["authserver.oauth"] = server
    return server


def current_server() -> AuthorizationServer:
    return current_app.extensions["authserver.oauth"]
