"""The per-worker client cache: it saves the client read on hot paths, and a change made
elsewhere is seen once its entry is older than the TTL."""

from __future__ import annotations

from flask import Flask

from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import OAuthClient
from authserver.oauth import client_cache
from authserver.oauth.client_cache import ClientCache
from benchmarks.statements import counting
from tests.oauth_helpers import register_client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_client_is_read_once_within_the_ttl(app: Flask) -> None:
    registered = register_client()
    cache = ClientCache(ttl=5, clock=Clock())
    with app.test_request_context():
        first = cache.find(registered.client_id)
        with counting(app) as counts:
            again = cache.find(registered.client_id)
    assert again is first and counts.statements == 0


def test_a_changed_secret_is_seen_once_the_entry_expires(app: Flask) -> None:
    registered = register_client()
    clock = Clock()
    cache = ClientCache(ttl=5, clock=clock)
    with app.test_request_context():
        cache.find(registered.client_id)
        row = OAuthClient.find(registered.client_id)
        row.client_secret_hash = sha256_hex("rotated")
        db.session.commit()
        assert cache.find(registered.client_id).check_client_secret(registered.secret)
        clock.now += 5
        fresh = cache.find(registered.client_id)
    assert fresh.check_client_secret("rotated")
    assert not fresh.check_client_secret(registered.secret)


def test_an_unknown_client_is_remembered_as_unknown(app: Flask) -> None:
    cache = ClientCache(ttl=5, clock=Clock())
    with app.test_request_context():
        assert cache.find("nobody") is None
        with counting(app) as counts:
            assert cache.find("nobody") is None
    assert counts.statements == 0


def test_a_zero_ttl_reads_every_time(app: Flask) -> None:
    registered = register_client()
    cache = ClientCache(ttl=0)
    with app.test_request_context():
        cache.find(registered.client_id)
        with counting(app) as counts:
            cache.find(registered.client_id)
    assert counts.statements == 1


def test_a_flood_of_unknown_ids_cannot_grow_the_cache(app: Flask, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(client_cache, "MAX_ENTRIES", 3)
    cache = ClientCache(ttl=5, clock=Clock())
    with app.test_request_context():
        for n in range(10):
            cache.find(f"unknown-{n}")
    assert len(cache._entries) <= 3
