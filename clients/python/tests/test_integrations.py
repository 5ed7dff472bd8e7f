"""The Flask decorator (through the billing example itself) and the FastAPI dependency, with
tokens from a real authserver: the same routes, the same answers, the RFC 6750 challenges."""

# No `from __future__ import annotations` here: FastAPI reads the Annotated dependencies of
# the endpoints below, which name local variables, from their evaluated annotations.

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from authserver_rs import AccessToken, ClientCredentials, Verifier
from authserver_rs.fastapi import RequireToken

from conftest import REPO, Acme, Authserver, Crowded

pytestmark = pytest.mark.server


def billing_example(issuer: str, credentials: ClientCredentials, **options: Any) -> Any:
    """examples/billing, imported from the repository (it is not in the wheel)."""
    sys.path.insert(0, str(REPO / "examples"))
    from billing.app import create_app

    return create_app(issuer, credentials, **options)  # publishes its manifest, as at start-up


def fastapi_twin(verifier: Verifier) -> FastAPI:
    app = FastAPI()
    reader = RequireToken(verifier, permission="invoice:read", org_from="org")
    writer = RequireToken(verifier, permission="invoice:write", org_from="org")

    @app.get("/orgs/{org}/invoices")
    def list_invoices(
        org: str, token: Annotated[AccessToken, Depends(reader)]
    ) -> list[dict[str, Any]]:
        return []

    @app.post("/orgs/{org}/invoices", status_code=201)
    def create_invoice(org: str, token: Annotated[AccessToken, Depends(writer)]) -> dict[str, Any]:
        return {"id": 1, "created_by": token.subject}

    return app


@dataclass(frozen=True)
class Answer:
    status: int
    challenge: str
    body: Any


Call = Callable[..., Answer]  # call(method, path, token=None, authorization=None, json=None)


def flask_caller(app: Any) -> Call:
    client = app.test_client()

    def call(method: str, path: str, token: str | None = None, **kw: Any) -> Answer:
        response = client.open(path, method=method, headers=_headers(token, kw), **kw)
        return Answer(response.status_code, _challenge(response), response.get_json())

    return call


def starlette_caller(app: FastAPI) -> Call:
    client = TestClient(app)

    def call(method: str, path: str, token: str | None = None, **kw: Any) -> Answer:
        response = client.request(method, path, headers=_headers(token, kw), **kw)
        return Answer(response.status_code, _challenge(response), response.json())

    return call


def _headers(token: str | None, kw: dict[str, Any]) -> dict[str, str]:
    authorization = kw.pop("authorization", None) or (f"Bearer {token}" if token else None)
    return {"Authorization": authorization} if authorization else {}


def _challenge(response: Any) -> str:
    return response.headers.get("WWW-Authenticate", "")


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def call(
    request: pytest.FixtureRequest,
    authserver: Authserver,
    billing_credentials: ClientCredentials,
    billing_manifest: Path,
) -> Call:
    if request.param == "flask":
        return flask_caller(billing_example(authserver.issuer, billing_credentials))
    verifier = Verifier(authserver.issuer, "billing", manifest=billing_manifest)
    return starlette_caller(fastapi_twin(verifier))


def test_no_token_gets_a_bare_challenge_for_each_scheme(call: Call) -> None:
    """RFC 9449 §7.2: a resource that takes Bearer and DPoP tokens names both, with the
    proof algorithms it accepts."""
    response = call("GET", "/orgs/acme/invoices")
    assert response.status == 401
    assert response.challenge == (
        'Bearer realm="billing", DPoP realm="billing", '
        'algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512"'
    )


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer    "])
def test_a_header_without_a_bearer_token_gets_a_bare_challenge(
    call: Call, authorization: str
) -> None:
    response = call("GET", "/orgs/acme/invoices", authorization=authorization)
    assert response.status == 401 and "error=" not in response.challenge


def test_a_bad_token_is_invalid_token(call: Call) -> None:
    response = call("GET", "/orgs/acme/invoices", "not-a-token")
    assert response.status == 401
    assert response.challenge.startswith('Bearer realm="billing", error="invalid_token"')


def test_a_token_for_another_audience_is_invalid_token(call: Call, acme: Acme) -> None:
    response = call("GET", "/orgs/acme/invoices", acme.alice.access_token(resource="auth"))
    assert response.status == 401 and 'error="invalid_token"' in response.challenge


TOKENS: dict[str, Callable[[Acme], str]] = {
    "org-scoped": lambda acme: acme.alice.access_token(resource="billing", organization="acme"),
    "orgs claim": lambda acme: acme.alice.access_token("openid orgs", resource="billing"),
}


@pytest.mark.parametrize("make_token", TOKENS.values(), ids=TOKENS.keys())
def test_a_clerk_reads_and_writes_invoices_of_her_org(
    call: Call, acme: Acme, make_token: Callable[[Acme], str]
) -> None:
    token = make_token(acme)
    assert call("GET", "/orgs/acme/invoices", token).status == 200
    created = call("POST", "/orgs/acme/invoices", token, json={"amount_cents": 1200})
    assert created.status == 201 and created.body["created_by"] == acme.alice_id


def test_a_viewer_reads_but_may_not_write(call: Call, acme: Acme) -> None:
    token = acme.bob.access_token(resource="billing", organization="acme")
    assert call("GET", "/orgs/acme/invoices", token).status == 200

    refused = call("POST", "/orgs/acme/invoices", token, json={"amount_cents": 1200})
    assert refused.status == 403
    assert 'error="insufficient_scope"' in refused.challenge
    assert "invoice:write" in refused.challenge


@pytest.mark.parametrize("make_token", TOKENS.values(), ids=TOKENS.keys())
def test_roles_in_one_org_open_nothing_in_another(
    call: Call, acme: Acme, make_token: Callable[[Acme], str]
) -> None:
    response = call("GET", "/orgs/globex/invoices", make_token(acme))
    assert response.status == 403 and 'error="insufficient_scope"' in response.challenge


def test_a_token_scoped_to_another_org_opens_nothing_here(call: Call, acme: Acme) -> None:
    token = acme.alice.access_token(resource="billing", organization="globex")
    assert call("GET", "/orgs/acme/invoices", token).status == 403


@pytest.mark.parametrize("amount", [True, "12", -1, 0, 1.5, None, 10**12])
def test_the_example_refuses_an_amount_that_is_not_whole_cents(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme, amount: object
) -> None:
    call = flask_caller(billing_example(authserver.issuer, billing_credentials))
    token = acme.alice.access_token(resource="billing", organization="acme")
    response = call("POST", "/orgs/acme/invoices", token, json={"amount_cents": amount})
    assert response.status == 422


def test_an_org_cut_from_the_orgs_claim_is_refused_with_a_way_forward(
    call: Call, crowded: Crowded
) -> None:
    token = crowded.dave.access_token("openid orgs", resource="billing")

    refused = call("GET", f"/orgs/{crowded.newest}/invoices", token)

    assert refused.status == 403
    assert f"ask for a token with organization={crowded.newest}" in refused.challenge


def test_an_org_scoped_token_decides_beyond_the_claims_bound(call: Call, crowded: Crowded) -> None:
    token = crowded.dave.access_token(resource="billing", organization=crowded.newest)
    assert call("GET", f"/orgs/{crowded.newest}/invoices", token).status == 200
