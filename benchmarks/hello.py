"""The ceiling and the floor, served with the same gunicorn settings as authserver in the
same run:

- `/hello`, the ceiling: a bare Flask route answering JSON. Every scenario is reported as a
  ratio to it.
- `/hello/token`, the floor of a client_credentials token on this stack: a Flask route that
  reads the form and the Basic credentials and answers one RS256 JWT access token, and
  does nothing else (no client lookup or secret check, no hooks, no log line). No token
  endpoint served by Flask and gunicorn here can be faster, so the floor's ratio to
  oidc-provider bounds the client_credentials target (benchmarks/targets.py, BOUNDS).
- `/hello/refresh`, the floor of a refresh on the stack the issue keeps: Flask, Authlib's
  own RefreshTokenGrant as the protocol engine, and authserver's own statements
  (`authserver/oauth/store.py`: the locked lookup, the successor and the rotated link in
  one statement, the memberships) on its tables, through psycopg in one transaction, then
  an RS256 access token and an RS256 ID token. It takes the client a Basic header names on
  its word, and checks nothing of the token but that it is unused: none of authserver's
  hooks, rules (reuse detection, the grace window, DPoP, the person's state), claims rules,
  audit or log line. What it reaches beside oidc-provider on PostgreSQL bounds the refresh
  target.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.engine import make_url

from authserver.clock import utcnow
from authserver.hashing import new_secret, sha256_hex
from authserver.oauth import store

app = Flask(__name__)
# Each worker makes its own key: nothing verifies these tokens, and signing is the same work.
_KEY = RSAKey.generate_key(2048, private=True)
_NO_STORE = {"Cache-Control": "no-store"}
_HEADER = {"alg": "RS256", "typ": "at+jwt", "kid": "floor"}


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.post("/hello/token")
def token() -> tuple[dict[str, object], int, dict[str, str]]:
    credentials = request.authorization
    if credentials is None or request.form.get("grant_type") != "client_credentials":
        return {"error": "invalid_request"}, 400, _NO_STORE
    now = int(time.time())
    claims = {
        "iss": request.host_url.rstrip("/"),
        "sub": credentials.username,
        "aud": credentials.username,
        "client_id": credentials.username,
        "scope": request.form.get("scope", ""),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
    }
    access_token = jwt.encode(_HEADER, claims, _KEY)
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": 600}, 200, _NO_STORE


# ---- the refresh floor ------------------------------------------------------------------

_ID_HEADER = {"alg": "RS256", "typ": "JWT", "kid": "floor"}
# authserver's own PostgreSQL codec: it joins the rotation's two writes into one statement.
_POSTGRESQL = store._CODECS["postgresql"]
_threads = threading.local()


def _database() -> psycopg.Connection[Any]:
    """This thread's connection to the benchmark's database, as authserver keeps one per
    thread (psycopg's defaults, server-side prepared statements after five runs)."""
    connection = getattr(_threads, "connection", None)
    if connection is None or connection.closed:
        url = make_url(os.environ["AUTHSERVER_DATABASE_URL"]).set(drivername="postgresql")
        connection = psycopg.connect(url.render_as_string(hide_password=False))
        _threads.connection = connection
    return connection


class _NamedClient(ClientMixin):
    """The client a Basic header names, on its word: the floor checks no secret."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return True

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "refresh_token"


class _Link(dict[str, Any]):
    """A locked refresh token row, as Authlib's grant reads it."""

    def check_client(self, client: _NamedClient) -> bool:
        return True

    def get_scope(self) -> str:
        return self["scope"]


class _Rotation(grants.RefreshTokenGrant):
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Link | None:
        found = _database().execute(
            store.REFRESH_LINK_LOCKED, {"token_hash": sha256_hex(refresh_token)}
        )
        row = found.fetchone()
        if row is None or row[4] is not None or row[5] is not None:  # rotated or revoked
            return None
        # the columns of REFRESH_LINK_LOCKED: t.id, t.client_id, t.scope, ..., f.id, ...,
        # f.user_id at 10, u.display_name at 22, u.email at 24
        return _Link(
            id=row[0], client_id=row[1], scope=row[2], family_id=row[8], user_id=row[10],
            name=row[22], email=row[24],
        )  # fmt: skip

    def authenticate_user(self, refresh_token: _Link) -> _Link:
        return refresh_token

    def save_token(self, token: dict[str, Any]) -> None:
        link, now, successor = self.request.refresh_token, utcnow(), uuid.uuid4()
        insert = {
            "id": successor, "token_hash": sha256_hex(token["refresh_token"]),
            "family_id": link["family_id"], "client_id": link["client_id"],
            "user_id": link["user_id"], "scope": link["scope"], "created_at": now,
            "expires_at": now + timedelta(days=14),
        }  # fmt: skip
        rotated = {
            "id": link["id"], "rotated_at": now, "successor_id": successor,
            "successor_ciphertext": None,
        }  # fmt: skip
        writes = ((store.INSERT_REFRESH_LINK, insert), (store.MARK_ROTATED, rotated))
        ((statement, parameters),) = _POSTGRESQL.together(writes)
        _database().execute(statement, parameters)

    def revoke_old_credential(self, refresh_token: _Link) -> None:
        """Done by save_token's one statement."""


def _tokens(
    grant_type: str,
    client: _NamedClient,
    user: _Link,
    scope: str,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    rows = _database().execute(store.MEMBERSHIPS, {"user_id": user["user_id"]}).fetchall()
    orgs: dict[str, dict[str, Any]] = {}
    for org_id, slug, _second_factor, _team, service, role, _joined in rows:
        org = orgs.setdefault(slug, {"id": str(org_id), "slug": slug, "roles": []})
        if role is not None:
            org["roles"].append(f"{service}:{role}")
    now, issuer = int(time.time()), request.host_url.rstrip("/")
    common = {"iss": issuer, "sub": str(user["user_id"]), "iat": now, "exp": now + 600}
    access = {
        **common, "aud": client.client_id, "client_id": client.client_id, "scope": scope,
        "jti": uuid.uuid4().hex, "family_id": str(user["family_id"]),
        "orgs": list(orgs.values()),
    }  # fmt: skip
    identity = {
        **common, "aud": client.client_id, "email": user["email"], "name": user["name"],
        "orgs": list(orgs.values()),
    }  # fmt: skip
    return {
        "access_token": jwt.encode(_HEADER, access, _KEY),
        "token_type": "Bearer",
        "expires_in": 600,
        "refresh_token": new_secret(),
        "id_token": jwt.encode(_ID_HEADER, identity, _KEY),
        "scope": scope,
    }


_server = AuthorizationServer(app, query_client=_NamedClient, save_token=lambda t, r: None)
_server.register_token_generator("default", _tokens)
_server.register_grant(_Rotation)


@app.post("/hello/refresh")
def refresh() -> Any:
    with _database().transaction():
        return _server.create_token_response()
