"""Playing a client: PKCE pairs, codes as /authorize would store them, token requests, and
verifying tokens as a resource server does (JWKS over HTTP, then signature and claims)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import OAuthClient, User
from tests.factories import make_client, make_code

ISSUER = "http://127.0.0.1:8000"


@dataclass
class RegisteredClient:
    client: OAuthClient
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id


def register_client(public: bool = False, **over: Any) -> RegisteredClient:
    secret = None if public else new_secret()
    fields: dict[str, Any] = {
        "scopes": ["openid", "profile", "email", "offline_access", "orgs"],
        "client_secret_hash": sha256_hex(secret) if secret else None,
        "token_endpoint_auth_method": "none" if public else "client_secret_basic",
    }
    client = make_client(**{**fields, **over})
    db.session.commit()
    return RegisteredClient(client, secret)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_code(
    registered: RegisteredClient,
    user: User,
    challenge: str,
    scope: str = "openid profile email offline_access",
    **over: Any,
) -> str:
    """Store a code exactly as /authorize does, and return its raw value."""
    raw = new_secret()
    make_code(
        registered.client,
        user,
        code_hash=sha256_hex(raw),
        code_challenge=challenge,
        scope=scope,
        auth_methods=["pwd"],
        **over,
    )
    db.session.commit()
    return raw


def post_token(
    http: FlaskClient, registered: RegisteredClient, data: dict[str, str], *, auth: str = "basic"
) -> TestResponse:
    form = dict(data)
    headers = {}
    if registered.secret is None or auth == "none":
        form["client_id"] = registered.client_id
    elif auth == "basic":
        raw = f"{registered.client_id}:{registered.secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        form.update(client_id=registered.client_id, client_secret=registered.secret)
    return http.post("/token", data=form, headers=headers)


def redeem(
    http: FlaskClient, registered: RegisteredClient, code: str, verifier: str, **extra: str
) -> TestResponse:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": registered.client.redirect_uris[0],
        "code_verifier": verifier,
        **extra,
    }
    return post_token(http, registered, data)


def refresh(http: FlaskClient, registered: RegisteredClient, token: str) -> TestResponse:
    return post_token(http, registered, {"grant_type": "refresh_token", "refresh_token": token})


def verify_as_resource_server(http: FlaskClient, token: str, audience: str) -> jwt.Token:
    """Fetch discovery and the JWKS over HTTP, verify the signature, then iss, aud and exp."""
    jwks_uri = http.get("/.well-known/openid-configuration").json["jwks_uri"]
    key_set = KeySet.import_key_set(http.get(jwks_uri.removeprefix(ISSUER)).json)
    verified = jwt.decode(token, key_set, algorithms=["RS256", "ES256"])
    claims = verified.claims
    assert claims["iss"] == ISSUER
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert audience in audiences
    assert claims["exp"] > utcnow().timestamp()
    return verified


def soon(seconds: int) -> Any:
    return utcnow() + timedelta(seconds=seconds)


def sign_in(app: Any, http: FlaskClient, user: User, methods: tuple[str, ...] = ("pwd",)) -> Any:
    """The test stand-in for the hosted sign-in pages: start a real session, set its cookie."""
    from authserver.identity import sessions

    settings = app.extensions["authserver.settings"]
    with app.test_request_context():
        session, raw = sessions.start(user, list(methods), settings)
        db.session.commit()
        session_id = session.id
    http.set_cookie(settings.session_cookie_name, raw)
    return session_id


def authorize_params(registered: RegisteredClient, challenge: str, **over: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.client.redirect_uris[0],
        "scope": "openid profile email offline_access",
        "state": "af0ifjsldkj",
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(over)
    return {name: value for name, value in params.items() if value is not None}


def redirect_params(response: TestResponse) -> dict[str, str]:
    from urllib.parse import parse_qs, urlsplit

    assert response.status_code == 302, (response.status_code, response.data[:300])
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {name: values[0] for name, values in query.items()}


def csrf_token_in(html: bytes) -> str:
    """The CSRF token a page's form carries, as a browser would submit it."""
    import re

    return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()


def server_signed_access_token(app: Any, client: OAuthClient, scope: str, **claims: Any) -> str:
    """An access token signed by the server's own keys as /token signs a service's, with
    `claims` changed: what a grant that a rule forgot to refuse would have issued."""
    from authserver.keys import current_key_store
    from authserver.oauth.tokens import ACCESS_TOKEN_TYPE, Grant, access_token_claims

    settings = app.extensions["authserver.settings"]
    with app.app_context():
        issued = access_token_claims(Grant(client=client, scope=scope), settings, utcnow())
        return current_key_store().sign({**issued, **claims}, typ=ACCESS_TOKEN_TYPE)
