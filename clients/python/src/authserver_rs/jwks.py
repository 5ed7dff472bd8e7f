"""The issuer's JWKS, cached as its Cache-Control and ETag allow, refetched for a new `kid`
at most once per interval, so a flood of tokens with made-up kids cannot make us hammer it."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from authserver_rs.errors import IssuerUnavailable

log = logging.getLogger("authserver_rs")

DEFAULT_MAX_AGE = 300.0  # when the answer has no max-age
LONGEST_MAX_AGE = 86400.0  # a typo upstream must not freeze our keys for a year
RETRY_AFTER_FAILURE = 5.0  # seconds between attempts while the JWKS cannot be read
MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    """One answer of the JWKS endpoint; `jwks` is None for 304 Not Modified."""

    jwks: dict[str, Any] | None
    etag: str | None
    cache_control: str | None


Fetch = Callable[[str | None], Fetched]  # called with the ETag to send as If-None-Match


def max_age_of(cache_control: str | None) -> float:
    """RFC 9111 §5.2.2.1; no-store, no-cache or a missing max-age fall back to the default."""
    if not cache_control:
        return DEFAULT_MAX_AGE
    found = MAX_AGE.search(cache_control)
    if found is None:
        return DEFAULT_MAX_AGE
    return min(float(found.group(1)), LONGEST_MAX_AGE)


class JwksCache:
    """The signing keys, fetched lazily and shared by every thread of the process."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        refetch_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._etag: str | None = None
        self._fresh_until = float("-inf")
        self._last_unknown_kid_fetch: float | None = None

    def key_set(self, kid: str | None) -> KeySet | None:
        """The keys, knowing `kid` if the issuer publishes it; None when it does not."""
        with self._lock:
            now = self._clock()
            expired = now >= self._fresh_until
            if expired:
                self._refresh(now)
            if self._keys is None:
                raise IssuerUnavailable("the issuer's JWKS cannot be read; retrying shortly")
            if kid in self._kids:
                return self._keys
            if expired or not self._may_refetch_for_unknown_kid(now):
                return None
            # A kid we have not seen: the issuer may have rotated (it publishes a new key
            # before signing with it, but our copy may predate that), so look once.
            self._last_unknown_kid_fetch = now
            self._refresh(now)
            return self._keys if kid in self._kids else None

    def _may_refetch_for_unknown_kid(self, now: float) -> bool:
        last = self._last_unknown_kid_fetch
        return last is None or now - last >= self._refetch_interval

    def _refresh(self, now: float) -> None:
        try:
            fetched = self._fetch(self._etag)
            keys = _import(fetched.jwks) if fetched.jwks is not None else None
            if keys is None and self._keys is None:
                raise ValueError("the JWKS endpoint answered 304 to a first request")
        except (IssuerUnavailable, JoseError, ValueError, KeyError, TypeError) as error:
            # Keep the keys we have (stale beats down); either way, ask again only after a
            # pause, so requests arriving during an outage do not each hit the issuer.
            log.warning("authserver_rs: cannot refresh the JWKS: %s", error)
            self._fresh_until = now + RETRY_AFTER_FAILURE
            return
        if keys is not None:
            self._keys = keys
            self._kids = frozenset(k.kid for k in keys.keys if k.kid)
        self._etag = fetched.etag or self._etag
        self._fresh_until = now + max_age_of(fetched.cache_control)


def _import(jwks: dict[str, Any]) -> KeySet:
    if not isinstance(jwks.get("keys"), list):
        raise ValueError("the JWKS has no keys list")
    return KeySet.import_key_set(cast(KeySetSerialization, jwks))
