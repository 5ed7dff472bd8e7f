"""DPoP (RFC 9449): proofs at /token, bound tokens at /userinfo, /introspect and /api/v1."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import DPoPProofUse, User
from authserver.oauth import dpop
from authserver.services.sync import sync_auth_manifest
from tests.dpop_helpers import TOKEN_URL, USERINFO_URL, DPoPKey, post_token_with
from tests.factories import make_user
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    issue_code,
    pkce_pair,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey()


@pytest.fixture
def public_client(app: Flask) -> RegisteredClient:
    return register_client(public=True, grant_types=["authorization_code", "refresh_token"])


@pytest.fixture
def confidential_client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def change_settings(app: Flask) -> Iterator[Callable[..., None]]:
    original = app.extensions["authserver.settings"]

    def change(**fields: Any) -> None:
        app.extensions["authserver.settings"] = dataclasses.replace(original, **fields)

    yield change
    app.extensions["authserver.settings"] = original


def code_form(registered: RegisteredClient, person: User, **over: Any) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    code = issue_code(registered, person, challenge, **over)
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": registered.client.redirect_uris[0],
        "code_verifier": verifier,
    }


def bound_tokens(
    http: FlaskClient, registered: RegisteredClient, person: User, key: DPoPKey, **over: Any
) -> dict:
    response = post_token_with(http, registered, code_form(registered, person, **over), key.proof())
    assert response.status_code == 200, response.json
    return response.json


def refresh_form(tokens: dict) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}


# ---- /token -------------------------------------------------------------------------------


@pytest.mark.parametrize("client_kind", ["public_client", "confidential_client"])
def test_a_token_request_with_a_proof_gets_an_access_token_bound_to_the_key(
    request: pytest.FixtureRequest, http: FlaskClient, person: User, key: DPoPKey, client_kind: str
) -> None:
    registered = request.getfixturevalue(client_kind)
    tokens = bound_tokens(http, registered, person, key)
    assert tokens["token_type"] == "DPoP"
    claims = verify_as_resource_server(http, tokens["access_token"], registered.client_id).claims
    assert claims["cnf"] == {"jkt": key.jkt}


def test_a_token_request_without_a_proof_stays_bearer(
    http: FlaskClient, confidential_client: RegisteredClient, person: User
) -> None:
    response = post_token_with(
        http, confidential_client, code_form(confidential_client, person), None
    )
    assert response.json["token_type"] == "Bearer"
    claims = verify_as_resource_server(
        http, response.json["access_token"], confidential_client.client_id
    ).claims
    assert "cnf" not in claims


def test_a_replayed_proof_is_refused(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    proof = key.proof()
    first = post_token_with(http, public_client, code_form(public_client, person), proof)
    assert first.status_code == 200, first.json
    again = post_token_with(http, public_client, code_form(public_client, person), proof)
    assert again.status_code == 400
    assert again.json["error"] == "invalid_dpop_proof"


def _other_key_signature(key: DPoPKey) -> str:
    """A proof naming `key` in its jwk but signed by another key."""
    forger = DPoPKey()
    return forger.proof(header={"jwk": key.key.as_dict(private=False)})


BAD_PROOFS: dict[str, Callable[[DPoPKey], str | list[str]]] = {
    "wrong htu": lambda k: k.proof(url=ISSUER + "/userinfo"),
    "htu of another host": lambda k: k.proof(url="https://evil.example/token"),
    "wrong htm": lambda k: k.proof(method="GET"),
    "stale iat": lambda k: k.proof(iat=int(utcnow().timestamp()) - 61),
    "iat in the future": lambda k: k.proof(iat=int(utcnow().timestamp()) + 60),
    "iat a string": lambda k: k.proof(iat="now"),
    "iat a boolean": lambda k: k.proof(iat=True),
    "no jti": lambda k: k.proof(drop=("jti",)),
    "jti a number": lambda k: k.proof(jti=7),
    "huge jti": lambda k: k.proof(jti="j" * 201),
    "no htu": lambda k: k.proof(drop=("htu",)),
    "typ JWT": lambda k: k.proof(header={"typ": "JWT"}),
    "no jwk": lambda k: k.proof(header={"jwk": None}),
    "private jwk": lambda k: k.proof(header={"jwk": k.key.as_dict(private=True)}),
    "jwk not a key": lambda k: k.proof(header={"jwk": {"kty": "EC", "crv": "P-256"}}),
    "signed by another key": _other_key_signature,
    "two DPoP headers": lambda k: [k.proof(), k.proof()],
    "not a JWS": lambda k: "not-a-proof",
    "three dots of garbage": lambda k: "a.b.c",
    "huge": lambda k: "a." + "b" * 9000 + ".c",
    "non-ASCII": lambda k: "é.é.é",
}


@pytest.mark.parametrize("make_proof", BAD_PROOFS.values(), ids=BAD_PROOFS.keys())
def test_a_bad_proof_is_refused_and_spends_nothing(
    http: FlaskClient,
    public_client: RegisteredClient,
    person: User,
    key: DPoPKey,
    make_proof: Callable[[DPoPKey], str | list[str]],
) -> None:
    form = code_form(public_client, person)
    refused = post_token_with(http, public_client, form, make_proof(key))
    assert refused.status_code == 400, refused.json
    assert refused.json["error"] == "invalid_dpop_proof"
    assert refused.headers["Cache-Control"] == "no-store"
    # The refusal came before the code was touched: a good proof still redeems it.
    assert post_token_with(http, public_client, form, key.proof()).status_code == 200


@pytest.mark.parametrize("alg", ["HS256", "none", "RSA1_5"])
def test_a_proof_with_a_symmetric_or_unknown_alg_is_refused(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey, alg: str
) -> None:
    # Built by hand: joserfc rightly refuses to sign these. The header names the alg.
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.key.as_dict(private=False)}
    claims = {"jti": "x", "htm": "POST", "htu": TOKEN_URL, "iat": int(utcnow().timestamp())}
    proof = f"{part(header)}.{part(claims)}.c2ln"
    refused = post_token_with(http, public_client, code_form(public_client, person), proof)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_dpop_proof"


def test_an_rsa_proof_is_accepted(
    http: FlaskClient, public_client: RegisteredClient, person: User
) -> None:
    rsa = DPoPKey("PS256")
    tokens = bound_tokens(http, public_client, person, rsa)
    assert tokens["token_type"] == "DPoP"


def test_htu_matches_after_normalisation_without_query_or_fragment(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    proof = key.proof(url="HTTP://127.0.0.1:8000/%74oken?x=1#frag")
    response = post_token_with(http, public_client, code_form(public_client, person), proof)
    assert response.status_code == 200, response.json


def test_a_client_that_requires_dpop_is_refused_a_token_without_a_proof(
    http: FlaskClient, person: User, key: DPoPKey
) -> None:
    registered = register_client(public=True, dpop_bound_access_tokens=True)
    form = code_form(registered, person)
    refused = post_token_with(http, registered, form, None)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_request"
    assert post_token_with(http, registered, form, key.proof()).json["token_type"] == "DPoP"


def test_a_service_client_gets_a_bound_client_credentials_token(
    app: Flask, http: FlaskClient, key: DPoPKey
) -> None:
    sync_auth_manifest()
    registered = register_client(
        grant_types=["client_credentials"], scopes=["services:sync"], service_name="auth"
    )
    response = post_token_with(http, registered, {"grant_type": "client_credentials"}, key.proof())
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"


# ---- refresh ------------------------------------------------------------------------------


def test_a_public_clients_refresh_with_the_same_key_works(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    tokens = bound_tokens(http, public_client, person, key)
    response = post_token_with(http, public_client, refresh_form(tokens), key.proof())
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"


@pytest.mark.parametrize("other", ["another key", "no proof"])
def test_a_public_clients_refresh_with_another_key_or_none_is_refused_and_keeps_the_token(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey, other: str
) -> None:
    tokens = bound_tokens(http, public_client, person, key)
    proof = DPoPKey().proof() if other == "another key" else None
    refused = post_token_with(http, public_client, refresh_form(tokens), proof)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_grant"
    # Refused before rotation: the holder of the key can still refresh.
    assert (
        post_token_with(http, public_client, refresh_form(tokens), key.proof()).status_code == 200
    )


def test_a_confidential_clients_refresh_token_is_not_bound_to_the_key(
    http: FlaskClient, confidential_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    # RFC 9449 §5: its refresh token is bound by the client's authentication instead.
    tokens = bound_tokens(http, confidential_client, person, key)
    other = DPoPKey()
    response = post_token_with(http, confidential_client, refresh_form(tokens), other.proof())
    assert response.status_code == 200, response.json
    claims = verify_as_resource_server(
        http, response.json["access_token"], confidential_client.client_id
    ).claims
    assert claims["cnf"] == {"jkt": other.jkt}


# ---- server nonce -------------------------------------------------------------------------


def test_with_nonces_on_a_proof_without_the_nonce_gets_use_dpop_nonce_and_one_to_use(
    http: FlaskClient,
    public_client: RegisteredClient,
    person: User,
    key: DPoPKey,
    change_settings: Callable[..., None],
) -> None:
    change_settings(dpop_nonce=True)
    form = code_form(public_client, person)
    refused = post_token_with(http, public_client, form, key.proof())
    assert refused.status_code == 400
    assert refused.json["error"] == "use_dpop_nonce"
    nonce = refused.headers["DPoP-Nonce"]
    wrong = post_token_with(http, public_client, form, key.proof(nonce=nonce + "x"))
    assert wrong.json["error"] == "use_dpop_nonce"
    retried = post_token_with(http, public_client, form, key.proof(nonce=nonce))
    assert retried.status_code == 200, retried.json
    assert retried.headers["DPoP-Nonce"]  # §8.2: the nonce for the next proof


def test_a_nonce_expires_after_two_windows(
    http: FlaskClient,
    public_client: RegisteredClient,
    person: User,
    key: DPoPKey,
    change_settings: Callable[..., None],
    move_clock: Callable[..., None],
) -> None:
    change_settings(dpop_nonce=True)
    form = code_form(public_client, person, expires_at=utcnow().replace(year=2100))
    nonce = post_token_with(http, public_client, form, key.proof()).headers["DPoP-Nonce"]
    move_clock(seconds=2 * dpop.NONCE_WINDOW + 1)
    refused = post_token_with(http, public_client, form, key.proof(nonce=nonce))
    assert refused.json["error"] == "use_dpop_nonce"


# ---- /userinfo ----------------------------------------------------------------------------


def userinfo(http: FlaskClient, scheme: str, token: str, proof: str | None = None) -> Any:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return http.get("/userinfo", headers=headers)


@pytest.fixture
def bound(http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey) -> str:
    return bound_tokens(http, public_client, person, key)["access_token"]


def test_userinfo_serves_a_bound_token_with_a_proof_of_its_key(
    http: FlaskClient, bound: str, key: DPoPKey, person: User
) -> None:
    response = userinfo(http, "DPoP", bound, key.proof("GET", USERINFO_URL, access_token=bound))
    assert response.status_code == 200, response.json
    assert response.json["sub"] == str(person.id)


def test_userinfo_refuses_a_bound_token_sent_as_bearer(http: FlaskClient, bound: str) -> None:
    response = userinfo(http, "Bearer", bound)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")


PRESENTATION_FAULTS: dict[str, Callable[[DPoPKey, str], str | None]] = {
    "missing ath": lambda k, t: k.proof("GET", USERINFO_URL),
    "ath of another token": lambda k, t: k.proof("GET", USERINFO_URL, access_token=t + "x"),
    "another key": lambda k, t: DPoPKey().proof("GET", USERINFO_URL, access_token=t),
    "the /token htu": lambda k, t: k.proof("GET", TOKEN_URL, access_token=t),
    "wrong htm": lambda k, t: k.proof("POST", USERINFO_URL, access_token=t),
    "no proof": lambda k, t: None,
}


@pytest.mark.parametrize("make_proof", PRESENTATION_FAULTS.values(), ids=PRESENTATION_FAULTS.keys())
def test_userinfo_refuses_a_bound_token_without_a_right_proof(
    http: FlaskClient, bound: str, key: DPoPKey, make_proof: Callable[[DPoPKey, str], str | None]
) -> None:
    response = userinfo(http, "DPoP", bound, make_proof(key, bound))
    assert response.status_code == 401, response.json
    assert response.json["error"] == "invalid_dpop_proof"
    assert 'algs="ES256' in response.headers["WWW-Authenticate"]


def test_userinfo_refuses_a_replayed_proof(http: FlaskClient, bound: str, key: DPoPKey) -> None:
    proof = key.proof("GET", USERINFO_URL, access_token=bound)
    assert userinfo(http, "DPoP", bound, proof).status_code == 200
    assert userinfo(http, "DPoP", bound, proof).json["error"] == "invalid_dpop_proof"


def test_userinfo_refuses_an_unbound_token_sent_as_dpop(
    http: FlaskClient, confidential_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    form = code_form(confidential_client, person)
    token = post_token_with(http, confidential_client, form, None).json["access_token"]
    response = userinfo(http, "DPoP", token, key.proof("GET", USERINFO_URL, access_token=token))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"


def test_userinfo_asks_for_the_nonce_when_nonces_are_on(
    http: FlaskClient, bound: str, key: DPoPKey, change_settings: Callable[..., None]
) -> None:
    change_settings(dpop_nonce=True)
    response = userinfo(http, "DPoP", bound, key.proof("GET", USERINFO_URL, access_token=bound))
    assert response.status_code == 401
    assert response.json["error"] == "use_dpop_nonce"
    nonce = response.headers["DPoP-Nonce"]
    proof = key.proof("GET", USERINFO_URL, access_token=bound, nonce=nonce)
    assert userinfo(http, "DPoP", bound, proof).status_code == 200


# ---- /introspect --------------------------------------------------------------------------


def test_introspection_reports_the_binding(
    http: FlaskClient, confidential_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    token = bound_tokens(http, confidential_client, person, key)["access_token"]
    result = http.post(
        "/introspect",
        data={"token": token},
        auth=(confidential_client.client_id, confidential_client.secret),
    ).json
    assert result["active"] is True
    assert result["token_type"] == "DPoP"
    assert result["cnf"] == {"jkt": key.jkt}


# ---- /api/v1 ------------------------------------------------------------------------------


@pytest.fixture
def api_token(app: Flask, http: FlaskClient, person: User, key: DPoPKey) -> str:
    sync_auth_manifest()
    registered = register_client(
        public=True, is_first_party=True, scopes=["openid", "orgs", "orgs:write"]
    )
    form = code_form(registered, person, scope="openid orgs", resources=["auth"])
    response = post_token_with(http, registered, form, key.proof())
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def test_the_api_serves_a_bound_token_with_a_proof(
    http: FlaskClient, api_token: str, key: DPoPKey
) -> None:
    proof = key.proof("GET", ISSUER + "/api/v1/orgs", access_token=api_token)
    response = http.get(
        "/api/v1/orgs", headers={"Authorization": f"DPoP {api_token}", "DPoP": proof}
    )
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("fault", ["as Bearer", "missing ath", "another key"])
def test_the_api_refuses_a_bound_token_without_its_proof(
    http: FlaskClient, api_token: str, key: DPoPKey, fault: str
) -> None:
    url = ISSUER + "/api/v1/orgs"
    headers = {"Authorization": f"DPoP {api_token}"}
    if fault == "as Bearer":
        headers = {"Authorization": f"Bearer {api_token}"}
    elif fault == "missing ath":
        headers["DPoP"] = key.proof("GET", url)
    else:
        headers["DPoP"] = DPoPKey().proof("GET", url, access_token=api_token)
    response = http.get("/api/v1/orgs", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")


# ---- the replay cache ---------------------------------------------------------------------


def test_without_redis_a_proof_is_remembered_in_the_database(
    http: FlaskClient, public_client: RegisteredClient, person: User, key: DPoPKey
) -> None:
    bound_tokens(http, public_client, person, key)
    assert db.session.scalar(select(func.count()).select_from(DPoPProofUse)) == 1


def test_with_redis_a_proof_is_remembered_there_for_every_instance(
    app: Flask,
    http: FlaskClient,
    public_client: RegisteredClient,
    person: User,
    key: DPoPKey,
    change_settings: Callable[..., None],
) -> None:
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    change_settings(redis_url=url)
    app.extensions.pop("authserver.dpop_redis", None)
    proof = key.proof()
    assert (
        post_token_with(http, public_client, code_form(public_client, person), proof).status_code
        == 200
    )
    # A second instance (another app on the same Redis) refuses the same proof.
    app.extensions.pop("authserver.dpop_redis", None)
    again = post_token_with(http, public_client, code_form(public_client, person), proof)
    assert again.json["error"] == "invalid_dpop_proof"
    assert db.session.scalar(select(func.count()).select_from(DPoPProofUse)) == 0
    app.extensions.pop("authserver.dpop_redis", None)


# ---- discovery ----------------------------------------------------------------------------


def test_discovery_advertises_the_dpop_algorithms(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    assert metadata["dpop_signing_alg_values_supported"] == list(dpop.ALGORITHMS)
    assert "HS256" not in metadata["dpop_signing_alg_values_supported"]
