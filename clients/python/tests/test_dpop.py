"""DPoP proofs at a protected resource (RFC 9449 §4.3, §7), without a server (pure): every
refusal, the htu normalization, the iat window, replay, and the DPoP challenge."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from authserver_rs import (
    DPoPPolicy,
    DPoPRequest,
    InvalidDPoPProof,
    InvalidToken,
    MemoryReplayCache,
    MissingToken,
    RedisReplayCache,
    ReplayCacheUnavailable,
)
from authserver_rs.dpop import bound_key, check_proof, normalized_uri, token_hash
from authserver_rs.guard import challenge, credentials

from dpop_client import DPoPKey, FakeRedis, ath, unsigned

URL = "http://127.0.0.1:8001/orgs/acme/invoices"
PATH = "/orgs/acme/invoices"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"  # what the proof's ath must hash


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey()


def check(
    proofs: str | tuple[str, ...],
    jkt: str,
    *,
    policy: DPoPPolicy | None = None,
    method: str = "GET",
    url: str = URL,
    path: str = PATH,
    now: float | None = None,
) -> None:
    request = DPoPRequest(method, url, path, (proofs,) if isinstance(proofs, str) else proofs)
    clock = (lambda: now) if now is not None else time.time
    check_proof(policy or DPoPPolicy(), request, TOKEN, jkt, clock)


def test_a_good_proof_by_the_bound_key_passes(key: DPoPKey) -> None:
    check(key.proof("GET", URL, access_token=TOKEN), key.jkt)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
def test_every_default_algorithm_family_passes(alg: str) -> None:
    key = DPoPKey(alg)
    check(key.proof("GET", URL, access_token=TOKEN), key.jkt)


def _hs256(key: DPoPKey) -> str:
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=False)}
    claims = {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time()), "ath": ath(TOKEN)}
    return jwt.encode(header, claims, secret, algorithms=["HS256"])


def _none(key: DPoPKey) -> str:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.key.as_dict(private=False)}
    claims = {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time()), "ath": ath(TOKEN)}
    return unsigned(header, claims)


def _private_jwk(key: DPoPKey) -> str:
    return key.proof("GET", URL, access_token=TOKEN, header={"jwk": key.key.as_dict(private=True)})


REFUSED: dict[str, Callable[[DPoPKey], str | tuple[str, ...]]] = {
    "no proof": lambda k: (),
    "two DPoP headers": lambda k: (
        k.proof("GET", URL, access_token=TOKEN),
        k.proof("GET", URL, access_token=TOKEN),
    ),
    "not a JWS": lambda k: "not-a-proof",
    "huge": lambda k: k.proof("GET", URL, access_token=TOKEN, pad="x" * 9000),
    "typ JWT": lambda k: k.proof("GET", URL, access_token=TOKEN, header={"typ": "JWT"}),
    "no typ": lambda k: k.proof("GET", URL, access_token=TOKEN, header={"typ": None}),
    "alg none": _none,
    "alg HS256 (a shared secret)": _hs256,
    "no jwk": lambda k: k.proof("GET", URL, access_token=TOKEN, header={"jwk": None}),
    "a jwk with its private key": _private_jwk,
    "jwk not a key": lambda k: k.proof(
        "GET", URL, access_token=TOKEN, header={"jwk": {"kty": "EC", "crv": "P-256"}}
    ),
    "signed by another key than its jwk": lambda k: k.proof(
        "GET", URL, access_token=TOKEN, signer=DPoPKey()
    ),
    "htm another method": lambda k: k.proof("POST", URL, access_token=TOKEN),
    "htm in lower case": lambda k: k.proof("get", URL, access_token=TOKEN),
    "htu another path": lambda k: k.proof(
        "GET", "http://127.0.0.1:8001/orgs/globex/invoices", access_token=TOKEN
    ),
    "htu another host": lambda k: k.proof(
        "GET", "http://billing.evil.example/orgs/acme/invoices", access_token=TOKEN
    ),
    "htu https for http": lambda k: k.proof(
        "GET", URL.replace("http:", "https:"), access_token=TOKEN
    ),
    "htu another port": lambda k: k.proof("GET", URL.replace(":8001", ":8002"), access_token=TOKEN),
    "htu not a URL": lambda k: k.proof("GET", "/orgs/acme/invoices", access_token=TOKEN),
    "no htu": lambda k: k.proof("GET", URL, access_token=TOKEN, drop=("htu",)),
    "no jti": lambda k: k.proof("GET", URL, access_token=TOKEN, drop=("jti",)),
    "a jti past 200 characters": lambda k: k.proof("GET", URL, access_token=TOKEN, jti="j" * 201),
    "no iat": lambda k: k.proof("GET", URL, access_token=TOKEN, drop=("iat",)),
    "iat a string": lambda k: k.proof("GET", URL, access_token=TOKEN, iat=str(int(time.time()))),
    "iat 61 s old": lambda k: k.proof("GET", URL, access_token=TOKEN, iat=int(time.time()) - 61),
    "iat 10 s ahead": lambda k: k.proof("GET", URL, access_token=TOKEN, iat=int(time.time()) + 10),
    "no ath": lambda k: k.proof("GET", URL),
    "ath of another token": lambda k: k.proof("GET", URL, access_token=TOKEN + "x"),
    "ath of the token, not base64url": lambda k: k.proof("GET", URL, ath=TOKEN),
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_proof_is_invalid_dpop_proof(
    key: DPoPKey, make: Callable[[DPoPKey], str | tuple[str, ...]]
) -> None:
    with pytest.raises(InvalidDPoPProof) as refused:
        check(make(key), key.jkt)
    assert refused.value.error == "invalid_dpop_proof" and refused.value.status == 401


def test_a_good_proof_by_another_key_than_the_bound_one_is_refused(key: DPoPKey) -> None:
    thief = DPoPKey()  # holds a copy of the token, not the client's key
    with pytest.raises(InvalidDPoPProof, match="another key"):
        check(thief.proof("GET", URL, access_token=TOKEN), key.jkt)


def test_an_algorithm_the_service_does_not_allow_is_refused() -> None:
    rsa = DPoPKey("RS256")
    with pytest.raises(InvalidDPoPProof, match="alg"):
        check(rsa.proof("GET", URL, access_token=TOKEN), rsa.jkt, policy=strict_es256())


def strict_es256() -> DPoPPolicy:
    return DPoPPolicy(algorithms=("ES256",))


@pytest.mark.parametrize("algorithms", [("HS256",), ("none",), ("ES256", "HS512"), ()])
def test_a_policy_never_allows_a_symmetric_or_no_algorithm(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        DPoPPolicy(algorithms=algorithms)


def test_a_replayed_proof_is_refused(key: DPoPKey) -> None:
    policy = DPoPPolicy()
    proof = key.proof("GET", URL, access_token=TOKEN)
    check(proof, key.jkt, policy=policy)

    with pytest.raises(InvalidDPoPProof, match="already used"):
        check(proof, key.jkt, policy=policy)


def test_a_refused_proof_does_not_use_up_its_jti(key: DPoPKey) -> None:
    policy = DPoPPolicy()
    with pytest.raises(InvalidDPoPProof):
        check(key.proof("POST", URL, access_token=TOKEN, jti="once"), key.jkt, policy=policy)
    check(key.proof("GET", URL, access_token=TOKEN, jti="once"), key.jkt, policy=policy)


def test_the_same_jti_from_another_key_is_another_proof(key: DPoPKey) -> None:
    policy, other = DPoPPolicy(), DPoPKey()
    check(key.proof("GET", URL, access_token=TOKEN, jti="same"), key.jkt, policy=policy)
    check(other.proof("GET", URL, access_token=TOKEN, jti="same"), other.jkt, policy=policy)


def test_the_iat_window_is_configurable(key: DPoPKey) -> None:
    now = time.time()
    old = key.proof("GET", URL, access_token=TOKEN, iat=int(now) - 100)
    with pytest.raises(InvalidDPoPProof):
        check(old, key.jkt, now=now)
    check(old, key.jkt, policy=DPoPPolicy(max_age=120), now=now)
    ahead = key.proof("GET", URL, access_token=TOKEN, iat=int(now) + 4)
    check(ahead, key.jkt, now=now)  # inside the default 5 s a client's clock may run ahead


def test_the_replay_cache_remembers_for_the_whole_window() -> None:
    seen: list[tuple[str, float]] = []

    class Recording(MemoryReplayCache):
        def first_use(self, key: str, ttl: float) -> bool:
            seen.append((key, ttl))
            return super().first_use(key, ttl)

    key = DPoPKey()
    check(key.proof("GET", URL, access_token=TOKEN), key.jkt, policy=DPoPPolicy(
        max_age=30, future_leeway=2, replay_cache=Recording()
    ))  # fmt: skip
    ((stored, ttl),) = seen
    assert ttl == 32 and len(stored) == 64  # a SHA-256, never the proof or its jti as sent


@pytest.mark.parametrize(
    "htu",
    [
        "HTTP://127.0.0.1:8001/orgs/acme/invoices",
        "http://127.0.0.1:8001/orgs/acme/invoices?page=2",
        "http://127.0.0.1:8001/orgs/acme/invoices#top",
        "http://127.0.0.1:8001/orgs/%61cme/invoices",
    ],
    ids=["scheme case", "query", "fragment", "percent-encoded unreserved"],
)
def test_htu_is_compared_after_normalization(key: DPoPKey, htu: str) -> None:
    check(key.proof("GET", htu, access_token=TOKEN), key.jkt)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://Billing.Example.com:443/x", "https://billing.example.com/x"),
        ("http://billing.example.com:80", "http://billing.example.com/"),
        ("https://billing.example.com/a%2fb", "https://billing.example.com/a%2Fb"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        # A framework's decoded path beside the client's encoded htu.
        ("https://billing.example.com/café", "https://billing.example.com/caf%C3%A9"),
        ("https://billing.example.com/a b", "https://billing.example.com/a%20b"),
    ],
)
def test_normalized_uris_are_equal(a: str, b: str) -> None:
    assert normalized_uri(a) == normalized_uri(b) is not None


@pytest.mark.parametrize("uri", ["/x", "ftp://example.com/x", "http:///x", "http://h:99999/"])
def test_what_is_not_an_http_url_does_not_normalize(uri: str) -> None:
    assert normalized_uri(uri) is None


def test_behind_a_proxy_the_configured_base_url_is_what_htu_must_name(key: DPoPKey) -> None:
    policy = DPoPPolicy(base_url="https://api.example.com/billing/")
    inside = {"url": "http://10.0.0.5:8001/orgs/acme/invoices", "path": PATH}
    public = "https://api.example.com/billing/orgs/acme/invoices"
    check(key.proof("GET", public, access_token=TOKEN), key.jkt, policy=policy, **inside)

    with pytest.raises(InvalidDPoPProof, match="htu"):
        check(key.proof("GET", inside["url"], access_token=TOKEN), key.jkt, policy=policy, **inside)


@pytest.mark.parametrize("base_url", ["api.example.com", "/billing", "ftp://api.example.com"])
def test_a_base_url_must_be_an_absolute_http_url(base_url: str) -> None:
    with pytest.raises(ValueError):
        DPoPPolicy(base_url=base_url)


def test_ath_is_base64url_of_the_tokens_sha256() -> None:
    # RFC 9449 Figures 13 and 14: this token, this ath.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


@pytest.mark.parametrize(
    ("claims", "bound"),
    [({}, None), ({"cnf": {"jkt": "abc"}}, "abc")],
    ids=["bearer", "DPoP-bound"],
)
def test_the_binding_is_read_from_cnf_jkt(claims: dict[str, Any], bound: str | None) -> None:
    assert bound_key(claims) == bound


@pytest.mark.parametrize(
    "cnf", [{"x5t#S256": "abc"}, {"jkt": ""}, {"jkt": 1}, "abc", None], ids=repr
)
def test_a_binding_the_kit_cannot_check_is_refused(cnf: object) -> None:
    with pytest.raises(InvalidToken):
        bound_key({"cnf": cnf})


# ---- the replay caches


def test_the_memory_cache_forgets_a_proof_when_its_window_is_over() -> None:
    now = [0.0]
    cache = MemoryReplayCache(clock=lambda: now[0])
    assert cache.first_use("a", 65) and not cache.first_use("a", 65)
    now[0] = 64.0
    assert not cache.first_use("a", 65)
    now[0] = 65.0
    assert cache.first_use("a", 65)


def test_a_full_memory_cache_refuses_rather_than_forget_a_live_proof() -> None:
    now = [0.0]
    cache = MemoryReplayCache(max_entries=2, clock=lambda: now[0])
    assert cache.first_use("a", 10) and cache.first_use("b", 20)

    with pytest.raises(ReplayCacheUnavailable):
        cache.first_use("c", 10)
    assert not cache.first_use("a", 10)  # still remembered
    now[0] = 10.0  # "a" is over: its place is free again
    assert cache.first_use("c", 10) and len(cache) == 2


def test_a_full_memory_cache_does_not_scan_everything_on_every_refusal() -> None:
    """Full of live proofs, each refusal must stay cheap: one scan, then none until the
    earliest of them expires (the lock is held meanwhile)."""
    scans = []
    now = [0.0]

    class Counting(MemoryReplayCache):
        def _forget_expired(self, at: float) -> None:
            scans.append(at)
            super()._forget_expired(at)

    cache = Counting(max_entries=3, clock=lambda: now[0])
    for key, ttl in (("a", 30), ("b", 10), ("c", 30)):  # "b" expires first, not in front
        assert cache.first_use(key, ttl)
    for _ in range(5):
        with pytest.raises(ReplayCacheUnavailable):
            cache.first_use("d", 30)
    assert scans == [0.0]
    now[0] = 10.0  # "b" is over, behind the live "a": found by one more scan
    assert cache.first_use("d", 30) and scans == [0.0, 10.0]


def test_expired_proofs_in_front_are_dropped_without_a_scan() -> None:
    now = [0.0]
    cache = MemoryReplayCache(max_entries=1000, clock=lambda: now[0])
    for n in range(1000):
        cache.first_use(f"k{n}", 65)
    now[0] = 65.0
    assert cache.first_use("new", 65) and len(cache) == 1


def test_the_redis_cache_sets_once_with_an_expiry() -> None:
    client = FakeRedis()
    cache = RedisReplayCache(client, prefix="billing:dpop:")
    assert cache.first_use("abc", 64.5) and not cache.first_use("abc", 64.5)
    assert client.calls[0] == ("billing:dpop:abc", {"nx": True, "ex": 65})


def test_an_unreachable_redis_is_unavailable_not_a_pass() -> None:
    with pytest.raises(ReplayCacheUnavailable):
        RedisReplayCache(FakeRedis(fail=True)).first_use("abc", 65)


def test_a_real_redis_refuses_a_replay_across_two_caches() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("CI: no Redis on 127.0.0.1:6379")  # a skip there would hide it
        pytest.skip("no Redis on 127.0.0.1:6379")
    key = DPoPKey()
    first, second = (
        DPoPPolicy(replay_cache=RedisReplayCache(client, prefix="authserver-rs-test:"))
        for _ in range(2)
    )  # two processes, one Redis
    proof = key.proof("GET", URL, access_token=TOKEN)
    check(proof, key.jkt, policy=first)
    with pytest.raises(InvalidDPoPProof, match="already used"):
        check(proof, key.jkt, policy=second)


# ---- credentials and challenges


@pytest.mark.parametrize(
    ("header", "found"),
    [("DPoP abc", ("dpop", "abc")), ("dpop  abc ", ("dpop", "abc")), ("Bearer x", ("bearer", "x"))],
)
def test_the_dpop_scheme_is_read_like_bearer(header: str, found: tuple[str, str]) -> None:
    assert credentials(header) == found


@pytest.mark.parametrize("header", ["DPoP", "DPoP   ", "Basic abc", None])
def test_a_dpop_scheme_without_a_token_is_no_credentials(header: str | None) -> None:
    with pytest.raises(MissingToken):
        credentials(header)


def test_a_dpop_refusal_answers_with_a_dpop_challenge_and_its_algorithms() -> None:
    refusal = InvalidDPoPProof("The DPoP proof's htu does not match the request URI.")
    refusal.presented_as_dpop(("ES256", "PS256"))
    assert challenge(refusal, "billing") == (
        'DPoP realm="billing", algs="ES256 PS256", error="invalid_dpop_proof", '
        'error_description="The DPoP proof\'s htu does not match the request URI."'
    )


def test_no_credentials_where_dpop_is_taken_too_get_both_challenges() -> None:
    refusal = MissingToken("A Bearer access token is required.")
    refusal.offer_dpop(("ES256", "PS256"))
    assert challenge(refusal, "billing") == (
        'Bearer realm="billing", DPoP realm="billing", algs="ES256 PS256"'
    )


def test_a_bearer_refusal_keeps_its_challenge() -> None:
    assert challenge(InvalidToken("Expired."), "billing") == (
        'Bearer realm="billing", error="invalid_token", error_description="Expired."'
    )
