"""The JWKS cache's rules, without a server (pure): HTTP freshness, ETag revalidation, and
the rate limit on refetches for unknown kids."""

from __future__ import annotations

import pytest
from joserfc.jwk import KeySet, RSAKey

from authserver_rs.errors import IssuerUnavailable
from authserver_rs.jwks import Fetched, JwksCache, max_age_of


def key_set(*kids: str) -> dict:
    return KeySet([RSAKey.generate_key(2048, parameters={"kid": k}) for k in kids]).as_dict()


class Issuer:
    """What the JWKS endpoint answers, and every request it got (the ETag each sent)."""

    def __init__(self, *kids: str, cache_control: str = "max-age=300") -> None:
        self.jwks = key_set(*kids)
        self.etag = '"v1"'
        self.cache_control = cache_control
        self.requests: list[str | None] = []
        self.down = False

    def fetch(self, etag: str | None) -> Fetched:
        self.requests.append(etag)
        if self.down:
            raise IssuerUnavailable("connection refused")
        if etag == self.etag:
            return Fetched(None, etag, self.cache_control)
        return Fetched(self.jwks, self.etag, self.cache_control)

    def rotate(self, *kids: str) -> None:
        self.jwks, self.etag = key_set(*kids), '"v2"'


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_keys_are_fetched_once_while_fresh(clock: Clock) -> None:
    issuer = Issuer("k1")
    cache = JwksCache(issuer.fetch, clock=clock)
    for _ in range(5):
        assert cache.key_set("k1") is not None
    clock.now += 299
    cache.key_set("k1")
    assert issuer.requests == [None]


def test_stale_keys_are_revalidated_with_the_etag(clock: Clock) -> None:
    issuer = Issuer("k1")
    cache = JwksCache(issuer.fetch, clock=clock)
    cache.key_set("k1")
    clock.now += 301
    assert cache.key_set("k1") is not None
    assert issuer.requests == [None, '"v1"']


def test_a_flood_of_unknown_kids_refetches_once_per_interval(clock: Clock) -> None:
    issuer = Issuer("k1")
    cache = JwksCache(issuer.fetch, refetch_interval=30, clock=clock)
    cache.key_set("k1")

    for n in range(100):
        assert cache.key_set(f"forged-{n}") is None
    clock.now += 30
    cache.key_set("forged-again")

    assert len(issuer.requests) == 3  # the first fetch, then one per interval


def test_a_new_kid_is_found_by_one_refetch(clock: Clock) -> None:
    issuer = Issuer("k1")
    cache = JwksCache(issuer.fetch, clock=clock)
    cache.key_set("k1")
    issuer.rotate("k1", "k2")

    assert cache.key_set("k2") is not None
    assert issuer.requests == [None, '"v1"']


def test_cached_keys_outlive_an_outage(clock: Clock) -> None:
    issuer = Issuer("k1")
    cache = JwksCache(issuer.fetch, refetch_interval=30, clock=clock)
    cache.key_set("k1")
    issuer.down = True
    clock.now += 301

    assert cache.key_set("k1") is not None
    assert cache.key_set("k1") is not None  # not asked again at once
    assert len(issuer.requests) == 2
    clock.now += 5
    cache.key_set("k1")
    assert len(issuer.requests) == 3


def test_no_keys_at_all_is_an_outage_retried_after_a_pause(clock: Clock) -> None:
    issuer = Issuer("k1")
    issuer.down = True
    cache = JwksCache(issuer.fetch, clock=clock)
    for _ in range(10):
        with pytest.raises(IssuerUnavailable):
            cache.key_set("k1")
    assert len(issuer.requests) == 1

    issuer.down = False
    clock.now += 5
    assert cache.key_set("k1") is not None
    assert len(issuer.requests) == 2


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("public, max-age=60", 60),
        ("MAX-AGE=5", 5),
        ("no-cache", 300),
        (None, 300),
        ("max-age=999999999", 86400),
        ("s-maxage=10", 300),
    ],
)
def test_max_age_is_read_from_cache_control(cache_control: str | None, seconds: float) -> None:
    assert max_age_of(cache_control) == seconds
