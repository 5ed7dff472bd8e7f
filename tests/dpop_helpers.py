"""Playing a DPoP client (RFC 9449): a key pair of its own and proofs made with joserfc."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.test import TestResponse

from authserver.clock import utcnow
from tests.oauth_helpers import ISSUER, RegisteredClient

TOKEN_URL = ISSUER + "/token"
USERINFO_URL = ISSUER + "/userinfo"


class DPoPKey:
    """A client's DPoP key: makes proofs, knows its RFC 7638 thumbprint."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key = (
            RSAKey.generate_key(2048)
            if alg.startswith(("RS", "PS"))
            else (ECKey.generate_key("P-256"))
        )

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(
        self,
        method: str = "POST",
        url: str = TOKEN_URL,
        *,
        access_token: str | None = None,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        fields: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(utcnow().timestamp()),
        }
        if access_token is not None:
            fields["ath"] = ath(access_token)
        fields.update(claims)
        for name in drop:
            fields.pop(name, None)
        protected = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.key.as_dict(private=False)}
        protected.update(header or {})
        protected = {name: value for name, value in protected.items() if value is not None}
        return jwt.encode(protected, fields, self.key, algorithms=[self.alg])


def ath(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def post_token_with(
    http: FlaskClient,
    registered: RegisteredClient,
    data: dict[str, str],
    proofs: list[str] | str | None,
) -> TestResponse:
    """POST /token as the client authenticates, with zero, one or several DPoP headers."""
    form = dict(data)
    headers: list[tuple[str, str]] = []
    if registered.secret is None:
        form["client_id"] = registered.client_id
    else:
        raw = f"{registered.client_id}:{registered.secret}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(raw).decode()))
    for proof in [proofs] if isinstance(proofs, str) else proofs or []:
        headers.append(("DPoP", proof))
    return http.post("/token", data=form, headers=headers)
