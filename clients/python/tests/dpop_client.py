"""Playing a DPoP client (RFC 9449): a key pair of its own and proofs made with joserfc, as
authserver's own tests do (tests/dpop_helpers.py), without the server's clock. And a stand-in
for a shared replay store."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey


class DPoPKey:
    """A client's DPoP key: makes proofs, knows its RFC 7638 thumbprint."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key: Any = (
            RSAKey.generate_key(2048) if alg.startswith(("RS", "PS")) else ECKey.generate_key()
        )

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        signer: DPoPKey | None = None,
        **claims: Any,
    ) -> str:
        """A proof for `method` `url` (with `ath` for `access_token`); `header` and `claims`
        change or add fields, `drop` removes claims, `signer` signs with another key."""
        fields: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if access_token is not None:
            fields["ath"] = ath(access_token)
        fields.update(claims)
        for name in drop:
            fields.pop(name, None)
        protected = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.key.as_dict(private=False)}
        protected.update(header or {})
        protected = {name: value for name, value in protected.items() if value is not None}
        signing = signer or self
        return jwt.encode(protected, fields, signing.key, algorithms=[protected["alg"]])


def ath(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """An `alg: none` JWT: header and payload with an empty signature."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


class FakeRedis:
    """What RedisReplayCache needs of redis.Redis: SET with NX and EX."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.keys: set[str] = set()

    def set(self, name: str, value: bytes, **options: Any) -> bool | None:
        if self.fail:
            raise ConnectionError("Connection refused")
        self.calls.append((name, options))
        if options.get("nx") and name in self.keys:
            return None
        self.keys.add(name)
        return True
