"""The AuthorizationServer: Authlib's, with our clients, grants and endpoints registered."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, OAuth2Error
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, current_app, g
from flask import request as flask_request

from authserver.config import current_settings
from authserver.credentials.exchange import TokenExchangeGrant
from authserver.models import OAuthClient
from authserver.oauth import client_auth, dpop, token_rate
from authserver.oauth.checks import AuthorizeChecks
from authserver.oauth.client_cache import current_client_cache
from authserver.oauth.device import DeviceAuthorizationEndpoint, DeviceCodeGrant
from authserver.oauth.endpoints import IntrospectionEndpoint, RevocationEndpoint
from authserver.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from authserver.oauth.par import PushedAuthorizationEndpoint
from authserver.oauth.pending import ParkedRequest
from authserver.oauth.preflight import check_grant_type_present, check_request
from authserver.oauth.private_key_jwt import METHOD as PRIVATE_KEY_JWT
from authserver.oauth.private_key_jwt import PrivateKeyJWT
from authserver.oauth.scopes import SCOPES
from authserver.oidc.logout import EndSessionEndpoint


class IssuerInResponse(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, success or error."""

    def get_issuer(self) -> str:
        return current_settings().issuer


class AuthorizationServer(FlaskAuthorizationServer):
    issuer_parameter = IssuerInResponse()

    def query_client(self, client_id: str) -> OAuthClient | None:
        client = current_client_cache().find(client_id)
        if client is not None:
            g.client_id = client.client_id  # for the request log line
        return client

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> OAuthClient:
        try:
            client = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            raise client_auth.described(error, request, methods, self.query_client) from None
        if endpoint == "token":
            token_rate.check(client.client_id)
        return client

    def create_oauth2_request(self, request: object) -> OAuth2Request:
        """A parked request resumes with its own parameters; anything else is this request."""
        if isinstance(request, ParkedRequest):
            return request
        return super().create_oauth2_request(request)

    def authorization_error_response(self, error: OAuth2Error) -> Response:
        """An error that Authlib has tied to a verified redirect URI, sent back with `iss`."""
        response = self.handle_error_response(None, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response

    def create_token_response(self, request: object = None) -> Response:
        try:
            check_request(flask_request.form, flask_request.headers)
            check_grant_type_present(flask_request.form)
            dpop.check_token_request()
        except dpop.ProofRefused as refused:
            return self.handle_error_response(request, dpop.TokenEndpointError(refused))
        except OAuth2Error as error:
            return self.handle_error_response(request, error)
        response = super().create_token_response(request)
        if current_settings().dpop_nonce and dpop.token_request_proof() is not None:
            # RFC 9449 §8.2: the nonce for the client's next proof, before this one expires.
            response.headers["DPoP-Nonce"] = dpop.new_nonce(current_settings())
        return response

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
    server.register_client_auth_method(PRIVATE_KEY_JWT, PrivateKeyJWT())
    server.register_grant(
        AuthorizationCodeGrant, [S256CodeChallenge(required=True), AuthorizeChecks()]
    )
    server.register_extension(server.issuer_parameter)
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(DeviceCodeGrant)
    server.register_grant(TokenExchangeGrant)
    server.register_endpoint(DeviceAuthorizationEndpoint)
    server.register_endpoint(PushedAuthorizationEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    app.extensions["authserver.oauth"] = server
    return server


def current_server() -> AuthorizationServer:
    return current_app.extensions["authserver.oauth"]
