"""The ceiling and the floor, served with the same gunicorn settings as authserver in the
same run:

- `/hello`, the ceiling: a bare Flask route answering JSON. Every scenario is reported as a
  ratio to it.
- `/hello/token`, the floor of a client_credentials token on this stack: a Flask route that
  reads the form and the Basic credentials and answers one RS256 JWT access token, and
  does nothing else (no client lookup or secret check, no hooks, no log line). No token
  endpoint served by Flask and gunicorn here can be faster, so the floor's ratio to
  oidc-provider bounds the client_credentials target (benchmarks/targets.py, BOUNDS).
"""

from __future__ import annotations

import time
import uuid

from flask import Flask, request
from joserfc import jwt
from joserfc.jwk import RSAKey

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
