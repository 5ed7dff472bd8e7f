"""Verifier against a real authserver: tokens from real code flows, its JWKS, its rotation."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from authserver_rs import (
    PERSON,
    SERVICE,
    ClientCredentials,
    InvalidToken,
    IssuerUnavailable,
    Verifier,
)

from conftest import Acme, Authserver, CountingHttp, Crowded

pytestmark = pytest.mark.server


@pytest.fixture
def verifier(authserver: Authserver, billing_manifest: Path) -> Verifier:
    return Verifier(authserver.issuer, "billing", manifest=billing_manifest)


def test_a_token_from_a_real_code_flow_is_accepted(verifier: Verifier, acme: Acme) -> None:
    token = verifier.verify(acme.alice.access_token(resource="billing", organization="acme"))

    assert token.subject_kind == PERSON and token.is_person
    assert token.audience == ("billing",) and token.issuer == verifier.issuer
    assert token.org is not None and token.org.slug == "acme" and token.org.id == acme.acme_id
    assert token.has_role("clerk") and token.has_permission("invoice:write")
    assert token.has_permission("billing:invoice:read", org="acme")
    assert not token.has_permission("payment:refund")


def test_an_org_scoped_token_answers_only_for_its_own_org(verifier: Verifier, acme: Acme) -> None:
    token = verifier.verify(acme.alice.access_token(resource="billing", organization="globex"))

    assert token.org is not None and token.org.slug == "globex"
    assert not token.has_permission("invoice:read")
    assert not token.has_permission("invoice:read", org="acme")


def test_the_orgs_claim_answers_per_org_through_the_manifest(
    verifier: Verifier, acme: Acme
) -> None:
    token = verifier.verify(acme.alice.access_token("openid orgs", resource="billing"))

    assert token.org is None and not token.orgs_truncated
    assert {m.slug for m in token.orgs or ()} == {"acme", "globex"}
    assert token.has_role("clerk", org="acme") and token.has_role("billing:clerk", org=acme.acme_id)
    assert token.has_permission("invoice:write", org="acme")
    assert not token.has_permission("invoice:write", org="globex")
    assert not token.has_permission("invoice:write")  # no org named: never "any of them"


def test_without_the_manifest_the_orgs_claim_answers_roles_only(
    authserver: Authserver, acme: Acme
) -> None:
    token = Verifier(authserver.issuer, "billing").verify(
        acme.alice.access_token("openid orgs", resource="billing")
    )
    assert token.has_role("clerk", org="acme")
    assert not token.has_permission("invoice:read", org="acme")


@pytest.mark.parametrize(
    "audience", [{}, {"resource": "auth"}], ids=["the client's own", "the API's"]
)
def test_a_token_for_another_audience_is_refused(
    verifier: Verifier, acme: Acme, audience: dict[str, str]
) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(acme.bob.access_token(**audience))


def test_a_service_token_is_a_service_and_not_for_billing(
    authserver: Authserver, billing_credentials: ClientCredentials, billing_manifest: Path
) -> None:
    raw = httpx.post(
        f"{authserver.issuer}/token",
        data={"grant_type": "client_credentials", "scope": "services:sync"},
        auth=billing_credentials.basic_auth(),
    ).json()["access_token"]

    with pytest.raises(InvalidToken):
        Verifier(authserver.issuer, "billing").verify(raw)
    token = Verifier(authserver.issuer, "auth").verify(raw)
    assert token.subject_kind == SERVICE and token.is_service and not token.is_person


def _decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _encode(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _with_payload(raw: str, **changes: object) -> str:
    header, payload, signature = raw.split(".")
    return ".".join([header, _encode(_decode(payload) | changes), signature])


def _with_header(raw: str, **changes: object) -> str:
    header, payload, signature = raw.split(".")
    return ".".join([_encode(_decode(header) | changes), payload, signature])


def _resigned(raw: str, **header: object) -> str:
    """The same claims signed by a key of our own (an attacker's), under the real kid."""
    claims = _decode(raw.split(".")[1])
    return jwt.encode({"alg": "RS256", **header}, claims, RSAKey.generate_key(2048))


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "payload changed": lambda raw: _with_payload(raw, sub="someone-else"),
    "signature cut": lambda raw: raw.rsplit(".", 1)[0] + ".",
    "alg none": lambda raw: _with_header(raw, alg="none").rsplit(".", 1)[0] + ".",
    "typ JWT (an ID token's)": lambda raw: _with_header(raw, typ="JWT"),
    "signed by another key": lambda raw: _resigned(
        raw, typ="at+jwt", kid=_decode(raw.split(".")[0])["kid"]
    ),
    "not a JWT": lambda raw: "not-a-jwt",
    "huge": lambda raw: raw + "A" * 20000,
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_a_tampered_token_is_refused(
    verifier: Verifier, acme: Acme, tamper: Callable[[str], str]
) -> None:
    raw = acme.bob.access_token(resource="billing", organization="acme")
    verifier.verify(raw)  # the original passes

    with pytest.raises(InvalidToken):
        verifier.verify(tamper(raw))


@pytest.mark.parametrize(
    ("shift", "accepted"),
    [(0, True), (20, True), (700, False), (-60, False)],
    ids=["now", "inside the leeway", "expired", "issued in the future"],
)
def test_token_times_are_checked_with_a_small_leeway(
    authserver: Authserver, acme: Acme, shift: int, accepted: bool
) -> None:
    raw = acme.bob.access_token(resource="billing")  # lives 600 s
    issued = _decode(raw.split(".")[1])["iat"]
    verifier = Verifier(authserver.issuer, "billing", leeway=30, clock=lambda: issued + shift)

    if accepted:
        verifier.verify(raw)
    else:
        with pytest.raises(InvalidToken):
            verifier.verify(raw)


def test_an_issuer_whose_discovery_names_another_issuer_is_unavailable(
    authserver: Authserver, acme: Acme
) -> None:
    raw = acme.bob.access_token(resource="billing")
    with pytest.raises(IssuerUnavailable):
        Verifier(authserver.issuer.replace("127.0.0.1", "localhost"), "billing").verify(raw)


def test_a_key_rotation_is_followed_without_a_restart(
    authserver: Authserver, acme: Acme, billing_manifest: Path
) -> None:
    http = CountingHttp()
    verifier = Verifier(authserver.issuer, "billing", http=http)
    before = acme.bob.access_token(resource="billing")
    verifier.verify(before)

    authserver.cli("keys", "rotate", "--now")
    after = acme.bob.access_token(resource="billing")

    assert _decode(after.split(".")[0])["kid"] != _decode(before.split(".")[0])["kid"]
    verifier.verify(after)
    verifier.verify(before)  # the retired key stays published until its tokens expire
    assert http.paths.count("/jwks.json") == 2


def test_a_flood_of_unknown_kids_refetches_the_jwks_once(
    authserver: Authserver, acme: Acme
) -> None:
    http = CountingHttp()
    verifier = Verifier(authserver.issuer, "billing", http=http)
    raw = acme.bob.access_token(resource="billing")
    verifier.verify(raw)

    for n in range(20):
        with pytest.raises(InvalidToken):
            verifier.verify(_resigned(raw, typ="at+jwt", kid=f"made-up-{n}"))

    assert http.paths.count("/jwks.json") == 2  # the first fetch, then one look for a new kid


def test_a_stale_jwks_is_revalidated_with_its_etag(authserver: Authserver, acme: Acme) -> None:
    raw = acme.bob.access_token(resource="billing")
    now = [float(_decode(raw.split(".")[1])["iat"])]
    http = CountingHttp()
    verifier = Verifier(authserver.issuer, "billing", http=http, clock=lambda: now[0])
    verifier.verify(raw)
    answers: list[int] = []
    http.event_hooks["response"] = [lambda response: answers.append(response.status_code)]

    now[0] += 400  # past the JWKS's max-age (300 s), inside the token's life (600 s)
    verifier.verify(raw)

    assert answers == [304]


def test_an_unreachable_issuer_is_asked_once_per_pause_not_per_request(acme: Acme) -> None:
    from tests.e2e.processes import free_port

    http = CountingHttp()
    verifier = Verifier(f"http://127.0.0.1:{free_port()}", "billing", http=http)
    raw = acme.bob.access_token(resource="billing")
    for _ in range(10):
        with pytest.raises(IssuerUnavailable):
            verifier.verify(raw)
    assert len(http.paths) == 1


def test_the_orgs_claim_is_cut_at_50_and_says_so(verifier: Verifier, crowded: Crowded) -> None:
    token = verifier.verify(crowded.dave.access_token("openid orgs", resource="billing"))

    assert token.orgs_truncated and len(token.orgs or ()) == 50
    assert token.lacks_orgs(crowded.newest) and not token.lacks_orgs("org-0")
    assert not token.has_permission("invoice:read", org=crowded.newest)
