"""private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): assertions
signed with joserfc here, keys registered inline or served from a jwks_uri by a real HTTP
server on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from authserver.extensions import db
from authserver.models import User
from authserver.oauth import client_jwks
from authserver.oauth.client_jwks import JWKSCache, JWKSUnavailable
from tests.concurrency import at_once
from tests.factories import make_user
from tests.jwks_server import HangingUpServer, JWKSServer, TricklingServer
from tests.oauth_helpers import ISSUER, RegisteredClient, issue_code, pkce_pair, register_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)
OTHER = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)
MADE_UP = RSAKey.generate_key(2048, parameters={"kid": "made-up"}, private=True)


def public_jwks(*keys: Any) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer(public_jwks(RSA, EC))
    yield server
    server.stop()


def key_client(**over: Any) -> RegisteredClient:
    fields = {
        "token_endpoint_auth_method": "private_key_jwt",
        "client_secret_hash": None,
        "jwks": public_jwks(RSA, EC),
    }
    return register_client(**{**fields, **over})


@pytest.fixture
def inline(app: Flask) -> RegisteredClient:
    return key_client()


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def assertion(
    client_id: str, key: Any = RSA, alg: str = "RS256", with_kid: bool = True, **over: Any
) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + "/token",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        **over,
    }
    claims = {name: value for name, value in claims.items() if value is not None}
    header = {"alg": alg, "kid": key.kid} if with_kid else {"alg": alg}
    return jwt.encode(header, claims, key)


def with_assertion(signed: str, **form: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **form}


def redeem_with(http: FlaskClient, registered: RegisteredClient, person: User, signed: str):  # noqa: ANN201
    verifier, challenge = pkce_pair()
    code = issue_code(registered, person, challenge)
    form = with_assertion(
        signed,
        grant_type="authorization_code",
        code=code,
        redirect_uri=registered.client.redirect_uris[0],
        code_verifier=verifier,
    )
    return http.post("/token", data=form)


@pytest.mark.parametrize(("key", "alg"), [(RSA, "RS256"), (EC, "ES256")])
def test_a_signed_assertion_authenticates_at_token(
    http: FlaskClient, inline: RegisteredClient, person: User, key: Any, alg: str
) -> None:
    response = redeem_with(http, inline, person, assertion(inline.client_id, key, alg))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("audience", [ISSUER, ISSUER + "/token"])
def test_the_audience_may_be_the_issuer_or_the_token_endpoint(
    http: FlaskClient, inline: RegisteredClient, person: User, audience: str
) -> None:
    signed = assertion(inline.client_id, aud=audience)
    assert redeem_with(http, inline, person, signed).status_code == 200


def test_a_replayed_jti_is_refused(
    http: FlaskClient, inline: RegisteredClient, person: User
) -> None:
    signed = assertion(inline.client_id)
    assert redeem_with(http, inline, person, signed).status_code == 200
    replayed = redeem_with(http, inline, person, signed)
    assert replayed.status_code == 401 and replayed.json["error"] == "invalid_client"
    assert "JWT ID" in replayed.json["error_description"]


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"aud": "https://elsewhere.example/token"}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": int(time.time()) - 120}, "exp"),
        ({"exp": None}, "exp"),
        ({"exp": int(time.time()) + 7200}, "3600 seconds"),
        ({"exp": "9999999999"}, "whole number"),
        ({"jti": None}, "JWT ID"),
        ({"jti": "x" * 300}, "jti"),
        ({"iss": "someone-else"}, "Issuer"),
    ],
)
def test_an_assertion_that_breaks_a_rule_is_invalid_client(
    http: FlaskClient, inline: RegisteredClient, person: User, over: dict, why: str
) -> None:
    refused = redeem_with(http, inline, person, assertion(inline.client_id, **over))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert why.lower() in refused.json["error_description"].lower(), refused.json


def test_an_assertion_signed_by_another_key_is_refused(
    http: FlaskClient, inline: RegisteredClient, person: User
) -> None:
    refused = redeem_with(http, inline, person, assertion(inline.client_id, OTHER))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"


def test_a_symmetric_assertion_is_refused(
    http: FlaskClient, inline: RegisteredClient, person: User
) -> None:
    from joserfc.jwk import OctKey

    shared = OctKey.generate_key(256, parameters={"kid": "rsa-1"})
    refused = redeem_with(http, inline, person, assertion(inline.client_id, shared, "HS256"))
    assert refused.status_code == 401 and "RS256" in refused.json["error_description"]


def test_a_secret_client_cannot_authenticate_with_an_assertion(
    http: FlaskClient, person: User
) -> None:
    secret_client = register_client()
    refused = redeem_with(http, secret_client, person, assertion(secret_client.client_id))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"


def test_an_assertion_beside_basic_credentials_is_refused(
    http: FlaskClient, inline: RegisteredClient
) -> None:
    form = with_assertion(
        assertion(inline.client_id), grant_type="refresh_token", refresh_token="x"
    )
    response = http.post("/token", data=form, headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "\u00e9" * 10, "x" * 3000])
def test_a_malformed_assertion_is_a_clear_error_never_a_500(
    http: FlaskClient, inline: RegisteredClient, garbage: str
) -> None:
    form = with_assertion(garbage, grant_type="refresh_token", refresh_token="x")
    response = http.post("/token", data=form)
    assert response.status_code in (400, 401) and response.json["error"] in (
        "invalid_client",
        "invalid_request",
    )


def test_keys_from_a_jwks_uri_are_fetched_once_and_cached(
    app: Flask, http: FlaskClient, person: User, jwks_server: JWKSServer
) -> None:
    by_uri = key_client(jwks=None, jwks_uri=jwks_server.uri)
    for _ in range(3):
        assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200
    assert jwks_server.fetches == 1


class Clock:
    """The monotonic clock of a JWKSCache, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def jwks_clock(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fresh per-worker key cache whose time the test moves."""
    clock = Clock()
    monkeypatch.setitem(app.extensions, "authserver.client_jwks", JWKSCache(clock=clock))
    return clock


REFETCH_INTERVAL = 5  # AUTHSERVER_CLIENT_JWKS_REFETCH_INTERVAL's default


def test_a_rotated_key_is_accepted_without_waiting_for_the_ttl(
    app: Flask, http: FlaskClient, person: User, jwks_server: JWKSServer, jwks_clock: Clock
) -> None:
    by_uri = key_client(jwks=None, jwks_uri=jwks_server.uri)
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200
    jwks_server.document = public_jwks(ROTATED)
    jwks_clock.now += REFETCH_INTERVAL  # far inside the 5 min TTL
    rotated = redeem_with(http, by_uri, person, assertion(by_uri.client_id, ROTATED))
    assert rotated.status_code == 200, rotated.json
    assert jwks_server.fetches == 2
    again = redeem_with(http, by_uri, person, assertion(by_uri.client_id, ROTATED))
    assert again.status_code == 200 and jwks_server.fetches == 2


def test_unknown_kids_fetch_the_jwks_uri_at_most_once_per_interval(
    app: Flask, http: FlaskClient, person: User, jwks_server: JWKSServer, jwks_clock: Clock
) -> None:
    by_uri = key_client(jwks=None, jwks_uri=jwks_server.uri)
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200

    def try_made_up_kids(times: int) -> None:
        for _ in range(times):
            refused = redeem_with(http, by_uri, person, assertion(by_uri.client_id, MADE_UP))
            assert refused.status_code == 401 and refused.json["error"] == "invalid_client"

    try_made_up_kids(3)  # the set was fetched just now: nothing newer to be had
    assert jwks_server.fetches == 1
    jwks_clock.now += REFETCH_INTERVAL
    try_made_up_kids(3)
    assert jwks_server.fetches == 2
    jwks_clock.now += REFETCH_INTERVAL - 1
    try_made_up_kids(3)
    assert jwks_server.fetches == 2
    jwks_clock.now += 1
    try_made_up_kids(3)
    assert jwks_server.fetches == 3
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200


def test_an_assertion_without_a_kid_is_verified_by_the_one_key_as_before(
    app: Flask, http: FlaskClient, person: User, jwks_clock: Clock
) -> None:
    server = JWKSServer(public_jwks(RSA))
    try:
        by_uri = key_client(jwks=None, jwks_uri=server.uri)
        for _ in range(3):
            jwks_clock.now += REFETCH_INTERVAL
            signed = assertion(by_uri.client_id, with_kid=False)
            assert redeem_with(http, by_uri, person, signed).status_code == 200
    finally:
        server.stop()
    assert server.fetches == 1


def test_a_failed_refetch_for_an_unknown_kid_is_invalid_client_and_keeps_the_old_keys(
    app: Flask, http: FlaskClient, person: User, jwks_server: JWKSServer, jwks_clock: Clock
) -> None:
    by_uri = key_client(jwks=None, jwks_uri=jwks_server.uri)
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200
    jwks_server.document = b"not json"
    jwks_clock.now += REFETCH_INTERVAL
    refused = redeem_with(http, by_uri, person, assertion(by_uri.client_id, ROTATED))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert jwks_server.fetches == 2
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200


def refused_at_once(http: FlaskClient, by_uri: RegisteredClient, person: User) -> None:
    refused = redeem_with(http, by_uri, person, assertion(by_uri.client_id))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"


@pytest.mark.parametrize(
    "failing",
    [
        {"status": 500},
        {"status": 404},
        {"document": b"not json"},
        {"document": {"keys": []}},
        {"encoding": "gzip"},
    ],
    ids=["500", "404", "not-json", "no-keys", "says-gzip-is-not"],
)
def test_a_failing_jwks_uri_is_fetched_again_only_after_the_interval(
    app: Flask, http: FlaskClient, person: User, jwks_clock: Clock, failing: dict
) -> None:
    server = JWKSServer(
        failing.get("document", public_jwks(RSA)),
        failing.get("status", 200),
        failing.get("encoding"),
    )
    try:
        by_uri = key_client(jwks=None, jwks_uri=server.uri)
        for _ in range(3):
            refused_at_once(http, by_uri, person)
        assert server.fetches == 1
        server.document, server.status, server.encoding = public_jwks(RSA), 200, None  # fixed
        jwks_clock.now += REFETCH_INTERVAL - 1
        refused_at_once(http, by_uri, person)
        assert server.fetches == 1
        jwks_clock.now += 1
        healed = redeem_with(http, by_uri, person, assertion(by_uri.client_id))
        assert healed.status_code == 200, healed.json
        assert server.fetches == 2
    finally:
        server.stop()


def test_an_unreachable_jwks_uri_is_tried_once_per_interval(
    app: Flask, http: FlaskClient, person: User, jwks_clock: Clock
) -> None:
    server = HangingUpServer()
    try:
        by_uri = key_client(jwks=None, jwks_uri=server.uri)
        for _ in range(3):
            refused_at_once(http, by_uri, person)
        assert server.fetches == 1
        jwks_clock.now += REFETCH_INTERVAL
        for _ in range(3):
            refused_at_once(http, by_uri, person)
        assert server.fetches == 2
    finally:
        server.stop()


def test_a_failed_fetch_when_the_kept_keys_expire_is_remembered_too(
    app: Flask, http: FlaskClient, person: User, jwks_server: JWKSServer, jwks_clock: Clock
) -> None:
    by_uri = key_client(jwks=None, jwks_uri=jwks_server.uri)
    assert redeem_with(http, by_uri, person, assertion(by_uri.client_id)).status_code == 200
    jwks_server.status = 500
    jwks_clock.now += 300  # AUTHSERVER_CLIENT_JWKS_CACHE_TTL's default: the kept keys expire
    for _ in range(3):
        refused_at_once(http, by_uri, person)
    assert jwks_server.fetches == 2


def test_a_failing_jwks_uri_retried_by_callers_at_once_costs_one_fetch() -> None:
    clock, callers = Clock(), 5
    cache, server = JWKSCache(clock=clock), JWKSServer(public_jwks(RSA), status=500)
    try:
        with pytest.raises(JWKSUnavailable):
            cache.get(server.uri, 300, refetch_interval=REFETCH_INTERVAL)
        clock.now += REFETCH_INTERVAL

        def call() -> bool:
            try:
                cache.get(server.uri, 300, refetch_interval=REFETCH_INTERVAL)
            except JWKSUnavailable:
                return True
            return False

        refused = at_once([call] * callers)
    finally:
        server.stop()
    assert refused == [True] * callers and server.fetches == 2


def test_unknown_kids_sent_at_once_cost_one_refetch(jwks_server: JWKSServer) -> None:
    clock, callers = Clock(), 5
    cache = JWKSCache(clock=clock)
    cache.get(jwks_server.uri, 300)
    clock.now += REFETCH_INTERVAL

    def call() -> object:
        return cache.get(jwks_server.uri, 300, kid="made-up", refetch_interval=REFETCH_INTERVAL)

    at_once([call] * callers)
    assert jwks_server.fetches == 2


@pytest.mark.parametrize(
    "document", [b"x" * 70_000, b"not json", b'{"keys": [{"kty": "oct", "k": "AAAA"}]}']
)
def test_a_jwks_uri_serving_too_much_or_garbage_fails_authentication_cleanly(
    app: Flask, http: FlaskClient, person: User, document: bytes
) -> None:
    server = JWKSServer(document)
    try:
        by_uri = key_client(jwks=None, jwks_uri=server.uri)
        refused = redeem_with(http, by_uri, person, assertion(by_uri.client_id))
    finally:
        server.stop()
    assert refused.status_code == 401 and "unavailable" in refused.json["error_description"]


def test_an_unreachable_jwks_uri_fails_authentication_cleanly(
    app: Flask, http: FlaskClient, person: User
) -> None:
    server = JWKSServer({})
    uri = server.uri
    server.stop()
    by_uri = key_client(jwks=None, jwks_uri=uri)
    refused = redeem_with(http, by_uri, person, assertion(by_uri.client_id))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
def test_an_assertion_authenticates_at_revoke_and_introspect(
    http: FlaskClient, inline: RegisteredClient, path: str
) -> None:
    form = with_assertion(assertion(inline.client_id, aud=ISSUER), token="unknown-token")
    response = http.post(path, data=form)
    assert response.status_code == 200, response.json


def test_an_assertion_authenticates_at_par(http: FlaskClient, inline: RegisteredClient) -> None:
    _, challenge = pkce_pair()
    form = with_assertion(
        assertion(inline.client_id, aud=ISSUER + "/par"),
        response_type="code",
        redirect_uri=inline.client.redirect_uris[0],
        scope="openid",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    response = http.post("/par", data=form)
    assert response.status_code == 201, response.json


def test_discovery_advertises_private_key_jwt_and_its_algorithms(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == ["RS256", "ES256"]


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers; concurrent replays are a PostgreSQL question")


def test_one_assertion_sent_by_several_callers_at_once_is_accepted_once(
    app: Flask, inline: RegisteredClient, postgres_only: None
) -> None:
    signed, callers = assertion(inline.client_id, aud=ISSUER), 5

    def call() -> int:
        form = with_assertion(signed, token="unknown-token")
        return app.test_client().post("/revoke", data=form).status_code

    statuses = at_once([call] * callers)
    assert sorted(statuses) == [200] + [401] * (callers - 1)


def test_a_jwks_uri_that_trickles_its_body_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each read arrives within the read timeout, so only a deadline for the whole fetch
    bounds how long a slow server holds the thread that fetches."""
    monkeypatch.setattr(client_jwks, "FETCH_DEADLINE", 1)
    server = TricklingServer(every=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(JWKSUnavailable, match="took more than 1 s"):
            client_jwks.fetch_jwks(server.uri)
        assert time.monotonic() - started < 10  # without the deadline: 3,000 s of trickle
    finally:
        server.stop()
