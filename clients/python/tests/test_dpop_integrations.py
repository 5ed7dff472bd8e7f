"""DPoP-bound tokens from a real authserver (a proof at /token binds them, RFC 9449 §5) at
the Flask decorator and the FastAPI dependency: accepted with their proof, refused as Bearer,
without a proof, with a bad one, with another key's, or replayed; the DPoP challenges."""

# No `from __future__ import annotations` here: FastAPI reads the Annotated dependencies of
# the endpoints below, which name local variables, from their evaluated annotations.

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask, jsonify

from authserver_rs import (
    AccessToken,
    ClientCredentials,
    DPoPPolicy,
    DPoPRequest,
    InvalidToken,
    RedisReplayCache,
    Verifier,
)
from authserver_rs.fastapi import RequireToken
from authserver_rs.flask import current_token, require_token

from conftest import Acme, Authserver, claims_of
from dpop_client import DPoPKey, FakeRedis

pytestmark = pytest.mark.server

PATH = "/orgs/acme/invoices"


@dataclass(frozen=True)
class Answer:
    status: int
    challenge: str
    body: Any
    headers: Any


@dataclass(frozen=True)
class App:
    """A guarded app under a test client; `origin` is the URL the client reaches it at."""

    origin: str
    send: Callable[..., Answer]  # send(method, path, authorization=None, proofs=())

    def url(self, path: str = PATH) -> str:
        return self.origin + path


def flask_app(verifier: Verifier) -> App:
    app = Flask(__name__)

    @app.get("/orgs/<org>/invoices")
    @require_token(verifier, permission="invoice:read", org_from="org")
    def list_invoices(org: str) -> Any:
        return jsonify(subject=current_token().subject)

    @app.post("/orgs/<org>/invoices")
    @require_token(verifier, permission="invoice:write", org_from="org")
    def create_invoice(org: str) -> Any:
        return jsonify(created_by=current_token().subject), 201

    client = app.test_client()

    def send(method: str, path: str, authorization: str | None = None, proofs: Any = ()) -> Answer:
        response = client.open(path, method=method, headers=_headers(authorization, proofs))
        return Answer(
            response.status_code,
            response.headers.get("WWW-Authenticate", ""),
            response.get_json(),
            response.headers,
        )

    return App("http://localhost", send)


def fastapi_app(verifier: Verifier) -> App:
    app = FastAPI()
    reader = RequireToken(verifier, permission="invoice:read", org_from="org")
    writer = RequireToken(verifier, permission="invoice:write", org_from="org")

    @app.get("/orgs/{org}/invoices")
    def list_invoices(org: str, token: Annotated[AccessToken, Depends(reader)]) -> Any:
        return {"subject": token.subject}

    @app.post("/orgs/{org}/invoices", status_code=201)
    def create_invoice(org: str, token: Annotated[AccessToken, Depends(writer)]) -> Any:
        return {"created_by": token.subject}

    client = TestClient(app)

    def send(method: str, path: str, authorization: str | None = None, proofs: Any = ()) -> Answer:
        response = client.request(method, path, headers=_headers(authorization, proofs))
        return Answer(
            response.status_code,
            response.headers.get("WWW-Authenticate", ""),
            response.json(),
            response.headers,
        )

    return App("http://testserver", send)


def _headers(authorization: str | None, proofs: Any) -> list[tuple[str, str]]:
    found = [("Authorization", authorization)] if authorization else []
    return found + [("DPoP", proof) for proof in ([proofs] if isinstance(proofs, str) else proofs)]


FRAMEWORKS = {"flask": flask_app, "fastapi": fastapi_app}
Make = Callable[..., App]  # make(**verifier options) -> App


@pytest.fixture(params=FRAMEWORKS.keys())
def make(request: pytest.FixtureRequest, authserver: Authserver, billing_manifest: Path) -> Make:
    def make_app(**options: Any) -> App:
        verifier = Verifier(authserver.issuer, "billing", manifest=billing_manifest, **options)
        return FRAMEWORKS[request.param](verifier)

    return make_app


@pytest.fixture
def app(make: Make) -> App:
    return make()


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey()


@pytest.fixture(scope="module")
def bound(acme: Acme, key: DPoPKey) -> str:
    """alice's org-scoped token for billing, bound to `key` (she is a clerk in acme)."""
    tokens = acme.alice.tokens(resource="billing", organization="acme", dpop=key)
    assert tokens["token_type"] == "DPoP"
    assert claims_of(tokens["access_token"])["cnf"] == {"jkt": key.jkt}
    return tokens["access_token"]


def test_a_bound_token_with_its_proof_is_accepted(
    app: App, acme: Acme, key: DPoPKey, bound: str
) -> None:
    read = app.send("GET", PATH, f"DPoP {bound}", key.proof("GET", app.url(), access_token=bound))
    assert read.status == 200 and read.body["subject"] == acme.alice_id

    proof = key.proof("POST", app.url(), access_token=bound)
    assert app.send("POST", PATH, f"dpop {bound}", proof).status == 201  # scheme in any case


def test_a_bound_token_sent_as_bearer_is_refused(app: App, key: DPoPKey, bound: str) -> None:
    proof = key.proof("GET", app.url(), access_token=bound)  # even with a good proof
    refused = app.send("GET", PATH, f"Bearer {bound}", proof)

    assert refused.status == 401
    assert refused.challenge.startswith('Bearer realm="billing", error="invalid_token"')
    assert "DPoP-bound" in refused.challenge


def test_a_bound_token_without_a_proof_is_refused(app: App, bound: str) -> None:
    refused = app.send("GET", PATH, f"DPoP {bound}")

    assert refused.status == 401
    assert refused.challenge.startswith(
        'DPoP realm="billing", algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512", '
        'error="invalid_dpop_proof"'
    )


BAD_PROOFS: dict[str, Callable[[DPoPKey, App, str], str | list[str]]] = {
    "for another method": lambda k, app, t: k.proof("POST", app.url(), access_token=t),
    "for another URL": lambda k, app, t: k.proof(
        "GET", app.url("/orgs/globex/invoices"), access_token=t
    ),
    "for another host": lambda k, app, t: k.proof(
        "GET", "https://elsewhere.example" + PATH, access_token=t
    ),
    "without ath": lambda k, app, t: k.proof("GET", app.url()),
    "for another token": lambda k, app, t: k.proof("GET", app.url(), access_token=t[:-2]),
    "too old": lambda k, app, t: k.proof(
        "GET", app.url(), access_token=t, iat=claims_of(t)["iat"] - 120
    ),
    "typ JWT": lambda k, app, t: k.proof("GET", app.url(), access_token=t, header={"typ": "JWT"}),
    "with its private key": lambda k, app, t: k.proof(
        "GET", app.url(), access_token=t, header={"jwk": k.key.as_dict(private=True)}
    ),
    "two of them": lambda k, app, t: [k.proof("GET", app.url(), access_token=t)] * 2,
    "by another key (a thief's)": lambda k, app, t: DPoPKey().proof(
        "GET", app.url(), access_token=t
    ),
}


@pytest.mark.parametrize("make_proof", BAD_PROOFS.values(), ids=BAD_PROOFS.keys())
def test_a_bound_token_with_a_bad_proof_is_refused(
    app: App, key: DPoPKey, bound: str, make_proof: Callable[[DPoPKey, App, str], Any]
) -> None:
    refused = app.send("GET", PATH, f"DPoP {bound}", make_proof(key, app, bound))

    assert refused.status == 401
    assert refused.challenge.startswith('DPoP realm="billing", algs="')
    assert 'error="invalid_dpop_proof"' in refused.challenge


def test_a_replayed_proof_is_refused(app: App, key: DPoPKey, bound: str) -> None:
    proof = key.proof("GET", app.url(), access_token=bound)
    assert app.send("GET", PATH, f"DPoP {bound}", proof).status == 200

    replayed = app.send("GET", PATH, f"DPoP {bound}", proof)
    assert replayed.status == 401
    assert 'error="invalid_dpop_proof", error_description="This DPoP proof was already used."' in (
        replayed.challenge
    )


def test_an_unbound_token_with_the_dpop_scheme_is_refused(
    app: App, acme: Acme, key: DPoPKey
) -> None:
    plain = acme.alice.access_token(resource="billing", organization="acme")
    proof = key.proof("GET", app.url(), access_token=plain)
    refused = app.send("GET", PATH, f"DPoP {plain}", proof)

    assert refused.status == 401
    assert refused.challenge.startswith('DPoP realm="billing", algs="')
    assert 'error="invalid_token"' in refused.challenge and "Bearer scheme" in refused.challenge
    assert app.send("GET", PATH, f"Bearer {plain}").status == 200  # as before


def test_a_bound_token_without_the_permission_gets_a_dpop_403(
    app: App, acme: Acme, key: DPoPKey
) -> None:
    viewer = acme.bob.tokens(resource="billing", organization="acme", dpop=key)["access_token"]
    proof = key.proof("POST", app.url(), access_token=viewer)
    refused = app.send("POST", PATH, f"DPoP {viewer}", proof)

    assert refused.status == 403
    assert refused.challenge.startswith('DPoP realm="billing", algs="')
    assert 'error="insufficient_scope"' in refused.challenge
    assert "invoice:write" in refused.challenge


def test_behind_a_proxy_the_proof_names_the_configured_base_url(
    make: Make, key: DPoPKey, bound: str
) -> None:
    app = make(dpop=DPoPPolicy(base_url="https://api.example.com/billing"))
    public = "https://api.example.com/billing" + PATH
    proof = key.proof("GET", public, access_token=bound)
    assert app.send("GET", PATH, f"DPoP {bound}", proof).status == 200

    internal = key.proof("GET", app.url(), access_token=bound)
    refused = app.send("GET", PATH, f"DPoP {bound}", internal)
    assert refused.status == 401 and "htu" in refused.challenge


def test_an_unreachable_shared_replay_cache_is_a_503_not_a_pass(
    make: Make, key: DPoPKey, bound: str
) -> None:
    app = make(dpop=DPoPPolicy(replay_cache=RedisReplayCache(FakeRedis(fail=True))))
    answer = app.send("GET", PATH, f"DPoP {bound}", key.proof("GET", app.url(), access_token=bound))

    assert answer.status == 503 and answer.headers.get("Retry-After") == "5"


def test_the_verifier_refuses_a_bound_token_as_bearer_and_checks_it_live_with_dpop(
    authserver: Authserver, billing_credentials: ClientCredentials, key: DPoPKey, bound: str
) -> None:
    verifier = Verifier(authserver.issuer, "billing", introspection=billing_credentials)
    with pytest.raises(InvalidToken, match="DPoP-bound"):
        verifier.verify(bound)

    url = "https://billing.example.com" + PATH
    request = DPoPRequest("GET", url, PATH, (key.proof("GET", url, access_token=bound),))
    token = verifier.verify_dpop(bound, request)  # introspected: still active
    assert token.claims["cnf"] == {"jkt": key.jkt} and token.org is not None
