"""Benchmark data, made through the models: a person in an organization holding roles of a
service, a web client, a service client, and one-use codes and refresh tokens in bulk."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import insert, text

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import (
    AuthorizationCode,
    GrantFamily,
    OAuthClient,
    RefreshToken,
    Role,
    User,
)
from authserver.oauth.registration import ClientSpec, register
from authserver.orgs.service import create_organization
from authserver.services import manifest as manifests
from authserver.services.sync import manifest_digest, sync

REDIRECT_URI = "http://127.0.0.1:9/callback"
SCOPE = "openid profile email offline_access orgs"
# One PKCE pair for every code: the benchmark measures the exchange, not the client.
VERIFIER = "benchmark-verifier-" + "v" * 40
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
BILLING = {
    "service": "billing",
    "permissions": [
        {"resource": "invoice", "action": "read"},
        {"resource": "invoice", "action": "write"},
        {"resource": "customer", "action": "read"},
    ],
    "roles": [
        {"name": "viewer", "permissions": ["invoice:read", "customer:read"]},
        {"name": "clerk", "permissions": ["invoice:read", "invoice:write"]},
    ],
}


@dataclass(frozen=True)
class Seed:
    user_id: uuid.UUID
    web_client_id: str
    web_secret: str
    service_client_id: str
    service_secret: str


def seed(app: Flask) -> Seed:
    """The people and clients every scenario uses."""
    with app.app_context():
        sync(manifests.parse("billing", BILLING), manifest_digest(BILLING))
        person = User(email="bench@example.com", display_name="Bench Person", email_verified=True)
        db.session.add(person)
        db.session.flush()
        for n in range(3):
            org = create_organization(person, f"Bench Org {n}", f"bench-org-{n}")
            member = org.members[0]
            member.roles.extend(
                db.session.scalars(db.select(Role).where(Role.service == "billing"))
            )
        web, web_secret = register(ClientSpec(name="Bench Web", redirect_uris=(REDIRECT_URI,)))
        service, service_secret = register(
            ClientSpec(
                name="Bench Service",
                grant_types=("client_credentials",),
                scopes=("services:sync",),
                service_name="billing",
            )
        )
        db.session.commit()
        # Statistics, as autovacuum keeps them on a database in use: these few rows are
        # below its threshold, and PostgreSQL plans for guessed sizes on a table never
        # analyzed (the memberships read: 274 against 230 us a round trip, measured).
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return Seed(person.id, web.client_id, web_secret, service.client_id, service_secret)


def mint_codes(app: Flask, seed: Seed, count: int) -> list[str]:
    """Codes as /authorize stores them, valid for the longest code lifetime allowed."""
    raws = [new_secret() for _ in range(count)]
    with app.app_context():
        client = _web_client_pk(seed)
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4(),
                "code_hash": sha256_hex(raw),
                "client_id": client,
                "user_id": seed.user_id,
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPE,
                "code_challenge": CHALLENGE,
                "code_challenge_method": "S256",
                "nonce": "n",
                "resources": [],
                "auth_time": now,
                "auth_methods": ["pwd"],
                "created_at": now,
                "expires_at": now + timedelta(seconds=600),
            }
            for raw in raws
        ]
        _insert_in_chunks(AuthorizationCode, rows)
    return raws


def mint_refresh_tokens(app: Flask, seed: Seed, count: int) -> list[str]:
    """Refresh tokens, each in a family of its own, as a code exchange leaves them."""
    raws = [new_secret() for _ in range(count)]
    with app.app_context():
        client = _web_client_pk(seed)
        now = utcnow()
        families = [
            {
                "id": uuid.uuid4(),
                "client_id": client,
                "user_id": seed.user_id,
                "scope": SCOPE,
                "resources": [],
                "auth_time": now,
                "auth_methods": ["pwd"],
                "created_at": now,
                "expires_at": now + timedelta(days=30),
            }
            for _ in raws
        ]
        tokens = [
            {
                "id": uuid.uuid4(),
                "token_hash": sha256_hex(raw),
                "family_id": family["id"],
                "client_id": client,
                "user_id": seed.user_id,
                "scope": SCOPE,
                "created_at": now,
                "expires_at": now + timedelta(days=14),
            }
            for raw, family in zip(raws, families, strict=True)
        ]
        _insert_in_chunks(GrantFamily, families)
        _insert_in_chunks(RefreshToken, tokens)
    return raws


def _web_client_pk(seed: Seed) -> uuid.UUID:
    return OAuthClient.find(seed.web_client_id).id


def _insert_in_chunks(model: type, rows: list[dict], size: int = 5000) -> None:
    for start in range(0, len(rows), size):
        db.session.execute(insert(model), rows[start : start + size])
    db.session.commit()
