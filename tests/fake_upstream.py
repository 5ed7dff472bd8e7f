"""A fake upstream OpenID provider ("fake Google") on a loopback port: real discovery, JWKS,
authorization and token endpoints with PKCE, and RS256-signed ID tokens. Tests change
`person` and `tamper` to play each case.

Like Google, it remembers when the person last authenticated there (`authenticated_at`), and
authenticates them again when asked (`prompt=login`, or `max_age` exceeded); its ID tokens
carry that `auth_time`. The tampers `ignores_reauthentication`, `no_auth_time` and
`future_auth_time` play upstreams that do not; `trickled_token`, `huge_token` and
`garbled_token` a token endpoint that sends its answer a byte at a time, too much of it, or
compressed wrongly."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "authserver-at-fake-google"
CLIENT_SECRET = "fake-google-secret"


class FakeProvider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "fake-1"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.person: dict[str, Any] = {}
        self.tamper: str | None = None
        self.cancel = False
        self.authenticated_at: int | None = None
        self.authorize_requests: list[dict[str, str]] = []
        # Its discovery document: whether it answers, the issuer it names, and the token
        # endpoint it gives (both paths answer, but for the one `retired`).
        self.discovery_fetches = 0
        self.discovery_status = 200
        self.discovery_issuer: str | None = None  # another issuer to name, if set
        self.token_path = "/token"
        self.retired_token_path: str | None = None
        self.app = self._build()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)

    def reset(self, **person: Any) -> None:
        self.person = {
            "sub": "google-sub-1",
            "email": "grace@example.com",
            "email_verified": True,
            "name": "Grace Hopper",
            "picture": "https://lh3.example.com/grace.png",
            **person,
        }
        self.tamper = None
        self.cancel = False
        self.authenticated_at = None
        self.discovery_status = 200
        self.discovery_issuer = None
        self.token_path = "/token"
        self.retired_token_path = None
        self.authorize_requests = []

    def _authenticate(self, args: dict[str, str]) -> int:
        """When the person authenticated for this request: now if they had to sign in
        (no sign-in yet, prompt=login, max_age exceeded), else their earlier sign-in."""
        now = int(time.time())
        expired = "max_age" in args and now - (self.authenticated_at or 0) > int(args["max_age"])
        must = self.authenticated_at is None or "login" in args.get("prompt", "").split()
        if self.tamper != "ignores_reauthentication" and (must or expired):
            self.authenticated_at = now
        return self.authenticated_at or now

    def _id_token(self, nonce: str, auth_time: int) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "auth_time": auth_time,
            **self.person,
        }
        key = self.key
        if self.tamper == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.tamper == "wrong_audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "expired":
            claims.update(iat=now - 3600, exp=now - 1800)
        elif self.tamper == "wrong_issuer":
            claims["iss"] = "https://evil.example.com"
        elif self.tamper == "bad_signature":
            key = self.other_key
        elif self.tamper == "no_auth_time":
            del claims["auth_time"]
        elif self.tamper == "future_auth_time":
            claims["auth_time"] = now + 3600
        return jwt.encode({"alg": "RS256", "kid": "fake-1"}, claims, key)

    def _build(self) -> Flask:
        app = Flask("fake-upstream")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            self.discovery_fetches += 1
            if self.discovery_status != 200:
                return "failing on purpose", self.discovery_status
            return jsonify(
                issuer=self.discovery_issuer or self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}{self.token_path}",
                jwks_uri=f"{self.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            assert args["code_challenge_method"] == "S256" and args["nonce"] and args["state"]
            if self.cancel:
                query = urlencode({"error": "access_denied", "state": args["state"]})
                return redirect(f"{args['redirect_uri']}?{query}")
            self.authorize_requests.append(dict(args))
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**args, "auth_time": self._authenticate(dict(args))}
            return redirect(
                f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}"
            )

        @app.post("/token")
        @app.post("/v2/token")
        def token() -> Any:
            if request.path == self.retired_token_path:
                return "moved", 404
            form = request.form
            auth = request.authorization
            client = (
                (auth.username, auth.password)
                if auth
                else (form.get("client_id"), form.get("client_secret"))
            )
            if client != (CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            issued = self.codes.pop(form.get("code", ""), None)
            if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
                return jsonify(error="invalid_grant"), 400
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued["code_challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            answer = jsonify(
                access_token=secrets.token_urlsafe(16),
                token_type="Bearer",
                expires_in=300,
                id_token=self._id_token(issued["nonce"], issued["auth_time"]),
            )
            if self.tamper == "trickled_token":  # a byte every 20 ms, each within any timeout
                body = answer.get_data()
                return Response(_trickled(body), mimetype="application/json")
            if self.tamper == "huge_token":  # valid JSON, 2 MiB of it
                return jsonify(access_token="x" * 2 * 1024 * 1024, token_type="Bearer")
            if self.tamper == "garbled_token":  # says gzip, is not
                answer.headers["Content-Encoding"] = "gzip"
            return answer

        return app


def _trickled(body: bytes) -> Iterator[bytes]:
    for index in range(len(body)):
        yield body[index : index + 1]
        time.sleep(0.02)
