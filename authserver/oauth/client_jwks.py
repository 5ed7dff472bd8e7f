"""The public keys of a private_key_jwt client (RFC 7523, OIDC Core §9): registered inline,
or fetched from its jwks_uri.

A jwks_uri is fetched with a deadline, no redirects and a size bound, and only over https
or plain http to a loopback address (a laptop's test client). What was fetched is kept per
worker for AUTHSERVER_CLIENT_JWKS_CACHE_TTL seconds, so a client's assertions do not each
cost a fetch. An assertion naming a `kid` the kept set lacks (the client rotated its keys)
fetches the jwks_uri again before it is refused, as OIDC Core §10.1.1 expects of a verifier;
that refetch happens at most once per AUTHSERVER_CLIENT_JWKS_REFETCH_INTERVAL seconds per
jwks_uri, so assertions with made-up kids cannot make us fetch in a loop. A fetch that fails
(unreachable, not 200, not a key set) is remembered for that interval too: a jwks_uri that
is down refuses its client's assertions at once instead of being fetched for each of them,
and after the interval one fetch tries it again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authserver.config import current_settings
from authserver.models import OAuthClient
from authserver.outbound import AnswerTooLarge, AnswerTooSlow, Bounded, Bounds

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 5  # seconds, connecting and reading
# The whole fetch, however the server trickles its bytes: a fetch holds a worker's thread.
FETCH_DEADLINE = 10  # seconds
MAX_JWKS_BYTES = 64 * 1024  # far more than a few public keys need
MAX_KEYS = 20
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Only keys whose private half the client keeps: a shared "oct" key would be a secret.
ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})


class JWKSUnavailable(Exception):
    """The client's keys cannot be had; the message is for the log only."""


def check_jwks_uri(uri: str) -> str | None:
    """What is wrong with a jwks_uri, or None: https, or http to a loopback address."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return "must be https, or http on a loopback address"


def parse_jwks(document: Any) -> KeySet:
    """A JWK Set of public, asymmetric keys; raise ValueError saying what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('must be a JSON object with a "keys" list')
    keys = document["keys"]
    if not keys or len(keys) > MAX_KEYS:
        raise ValueError(f"must hold 1 to {MAX_KEYS} keys")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ASYMMETRIC_KEY_TYPES:
            raise ValueError("keys must be RSA, EC or OKP public keys")
        if "d" in key:
            raise ValueError("must hold public keys only, never a private key")
    try:
        return KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"is not a valid JWK Set ({type(error).__name__})") from None


class _JWKSSession(Bounded, requests.Session):
    def bounds(self) -> Bounds:
        return Bounds(max_bytes=MAX_JWKS_BYTES, seconds=FETCH_DEADLINE, read_timeout=FETCH_TIMEOUT)


def fetch_jwks(uri: str) -> KeySet:
    problem = check_jwks_uri(uri)
    if problem is not None:
        raise JWKSUnavailable(f"jwks_uri {problem}")
    try:
        with _JWKSSession() as session:
            response = session.get(uri, allow_redirects=False)
        if response.status_code != 200:
            raise JWKSUnavailable(f"jwks_uri answered {response.status_code}")
        return parse_jwks(json.loads(response.content))
    except AnswerTooLarge:
        raise JWKSUnavailable(f"jwks_uri sent more than {MAX_JWKS_BYTES} bytes") from None
    except AnswerTooSlow:
        raise JWKSUnavailable(f"jwks_uri took more than {FETCH_DEADLINE} s") from None
    except requests.RequestException as error:
        raise JWKSUnavailable(f"jwks_uri unreachable: {type(error).__name__}") from None
    except ValueError as error:  # not JSON, or not a key set of public keys
        raise JWKSUnavailable(f"jwks_uri document {error}") from None


class JWKSCache:
    """jwks_uri -> (fetched at, key set), per worker; when each jwks_uri was last fetched
    for an unknown kid, whether that fetch worked or not; and when a fetch of it last failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, KeySet]] = {}
        self._refetched_at: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(
        self, uri: str, ttl: int, *, kid: str | None = None, refetch_interval: int = 5
    ) -> KeySet:
        """The key set of `uri`. One that lacks `kid` is fetched again, unless `uri` was
        fetched (or a refetch tried) less than `refetch_interval` seconds ago. No kept set
        and a fetch that failed less than `refetch_interval` seconds ago: JWKSUnavailable,
        without a fetch."""
        now = self._clock()
        entry = self._entries.get(uri)
        if entry is None or now - entry[0] >= ttl:
            self._claim_fetch(uri, now, refetch_interval)
            return self._fetch(uri, now)
        fetched_at, key_set = entry
        if kid is None or has_kid(key_set, kid):
            return key_set
        if not self._may_refetch(uri, now, fetched_at, refetch_interval):
            return key_set  # the assertion is refused for its unknown kid
        try:
            return self._fetch(uri, now)
        except JWKSUnavailable as error:
            log.warning("refetch of %s for an unknown kid failed: %s", uri, error)
            return key_set  # the kept keys still verify what they signed

    def _claim_fetch(self, uri: str, now: float, interval: int) -> None:
        """Refuse a jwks_uri whose last fetch failed less than `interval` seconds ago; after
        that, claim the one retry: callers at the same moment are refused, not fetching too."""
        with self._lock:
            failed_at = self._failed_at.get(uri)
            if failed_at is None:
                return
            if now - failed_at < interval:
                raise JWKSUnavailable(
                    f"jwks_uri failed {now - failed_at:.0f} s ago; not fetched again yet"
                )
            self._failed_at[uri] = now

    def _may_refetch(self, uri: str, now: float, fetched_at: float, interval: int) -> bool:
        """Claim the one refetch this interval allows; two callers at once get one claim."""
        with self._lock:
            last = max(fetched_at, self._refetched_at.get(uri, fetched_at))
            if now - last < interval:
                return False
            _remember(self._refetched_at, uri, now)
            return True

    def _fetch(self, uri: str, now: float) -> KeySet:
        try:
            key_set = fetch_jwks(uri)
        except JWKSUnavailable:
            with self._lock:
                _remember(self._failed_at, uri, now)
            raise
        with self._lock:
            _remember(self._entries, uri, (now, key_set))
            self._failed_at.pop(uri, None)
        return key_set


def _remember(table: dict[str, Any], uri: str, value: Any) -> None:
    """Keep `value` for `uri`; a worker keeps at most 1,000 jwks_uris in each table (a
    clear past that, not a bound anyone notices: there are as many as clients with one)."""
    if len(table) > 1000:
        table.clear()
    table[uri] = value


def has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set)


def public_keys_of(client: OAuthClient, kid: str | None = None) -> KeySet:
    """The keys that verify the client's assertions; `kid` is the one an assertion names."""
    if client.jwks is not None:
        try:
            return parse_jwks(client.jwks)
        except ValueError as error:
            raise JWKSUnavailable(f"registered jwks {error}") from None
    if client.jwks_uri is None:
        raise JWKSUnavailable("the client has neither jwks nor jwks_uri")
    cache: JWKSCache = current_app.extensions.setdefault("authserver.client_jwks", JWKSCache())
    settings = current_settings()
    return cache.get(
        client.jwks_uri,
        settings.client_jwks_cache_ttl,
        kid=kid,
        refetch_interval=settings.client_jwks_refetch_interval,
    )
