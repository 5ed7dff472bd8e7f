"""Uses the public API the way a service does; `mypy --strict` must accept it against the
installed package (tests/test_typing.py), which it does only if the wheel ships py.typed."""

from __future__ import annotations

from authserver_rs import (
    AccessToken,
    ClientCredentials,
    DPoPPolicy,
    DPoPRequest,
    InvalidDPoPProof,
    ManifestRejected,
    Membership,
    RedisReplayCache,
    SyncResult,
    Verifier,
    publish_manifest,
)
from authserver_rs.flask import current_token, require_token


def authorize(verifier: Verifier, raw: str) -> bool:
    token: AccessToken = verifier.verify(raw, live=False)
    memberships: tuple[Membership, ...] = token.orgs or ()
    return token.has_permission("invoice:write", org="acme") and len(memberships) >= 0


def start(issuer: str, credentials: ClientCredentials) -> SyncResult | None:
    try:
        return publish_manifest({"service": "billing"}, issuer=issuer, credentials=credentials)
    except ManifestRejected as refused:
        holders: list[dict[str, str]] = refused.holders
        return None if holders else None


@require_token(Verifier("https://auth.example.com", "billing"), permission="invoice:read")
def view() -> str:
    return current_token().subject


def accept_dpop(issuer: str, shared: RedisReplayCache) -> Verifier:
    policy = DPoPPolicy(base_url="https://billing.example.com", max_age=30, replay_cache=shared)
    return Verifier(issuer, "billing", dpop=policy)


def check_dpop(verifier: Verifier, raw: str, proof: str) -> AccessToken | None:
    request = DPoPRequest("GET", "https://billing.example.com/x", "/x", (proof,))
    try:
        return verifier.verify_dpop(raw, request)
    except InvalidDPoPProof as refused:
        return None if refused.error == "invalid_dpop_proof" else None
