"""authserver as outsiders see it: a client app with Authlib's OAuth2Session, a resource
server that reads discovery, fetches the JWKS over HTTP and checks signatures and claims,
and a person in a browser."""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server


def _app_page(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"back at the app"]


# The client app's own pages: every path answers 200. Bound at import, served by the
# `app_pages` fixture, so its port is known to the constants below.
APP_PAGES = make_server("127.0.0.1", 0, _app_page, threaded=True)
APP = f"http://127.0.0.1:{APP_PAGES.server_port}"
CALLBACK = APP + "/callback"
SIGNED_OUT = APP + "/signed-out"
APP_REQUEST = re.compile("^" + re.escape(APP) + "/")


def get_json(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


class Issuer:
    """What a client or resource server knows of us: discovery and the JWKS, over HTTP."""

    def __init__(self, base: str) -> None:
        self.metadata = get_json(base + "/.well-known/openid-configuration")
        self.issuer: str = self.metadata["issuer"]

    def __getitem__(self, name: str) -> Any:
        return self.metadata[name]

    def key_set(self, jwks_uri: str | None = None) -> KeySet:
        return KeySet.import_key_set(get_json(jwks_uri or self.metadata["jwks_uri"]))

    def verify(
        self, token: str, *, audience: str, typ: str | None = None, jwks_uri: str | None = None
    ) -> dict[str, Any]:
        """Check a JWT as a resource server would; return its claims."""
        algorithms = self.metadata["id_token_signing_alg_values_supported"]
        decoded = jwt.decode(token, self.key_set(jwks_uri), algorithms=algorithms)
        if typ is not None:
            assert decoded.header["typ"] == typ
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
        return decoded.claims


class App:
    """A registered client app driving the code flow with PKCE through Authlib."""

    def __init__(
        self,
        issuer: Issuer,
        client_id: str,
        client_secret: str | None = None,
        scope: str = "openid email profile offline_access",
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.session = OAuth2Session(
            client_id,
            client_secret,
            scope=scope,
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if client_secret else "none",
        )
        self.verifier = ""
        self.nonce = ""

    def authorization_url(self, **extra: str) -> str:
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        url, _state = self.session.create_authorization_url(
            self.issuer["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **extra,
        )
        return url

    def exchange(self, callback_url: str, token_endpoint: str | None = None) -> dict[str, Any]:
        return self.session.fetch_token(
            token_endpoint or self.issuer["token_endpoint"],
            authorization_response=callback_url,
            code_verifier=self.verifier,
        )

    def refresh(self, refresh_token: str, token_endpoint: str | None = None) -> dict[str, Any]:
        return self.session.refresh_token(
            token_endpoint or self.issuer["token_endpoint"], refresh_token=refresh_token
        )

    def token_request(self, endpoint: str, **form: str) -> requests.Response:
        """A raw POST with the client's authentication, to see the error a refusal gets."""
        auth = self.session.client_auth(self.session.token_endpoint_auth_method)
        return self.session.post(endpoint, data=form, auth=auth, withhold_token=True)


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def browse_to_client(page: Any, action: Callable[[], object]) -> str:
    """Do `action` in the browser and return the URL it ends on at the client's callback."""
    with page.expect_request(APP_REQUEST) as request:
        action()
    return request.value.url


def sign_in_with_google(page: Any, url: str) -> str:
    """Open an authorization URL, sign in through the fake Google, approve consent; return
    the callback URL."""
    page.goto(url)
    page.get_by_role("link", name="Sign in with Google").click()
    page.wait_for_selector("button:has-text('Allow')")
    return browse_to_client(page, page.get_by_role("button", name="Allow").click)
