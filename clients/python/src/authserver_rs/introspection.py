"""Live checks at the issuer's /introspect (RFC 7662) with the service's own client
credentials, each answer cached for a short, configured time."""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from authserver_rs.errors import IssuerUnavailable

MAX_CACHED = 10_000  # answers kept at once; past it the oldest half goes


@dataclass(frozen=True)
class ClientCredentials:
    """A confidential client of authserver: the service's own (`clients create --service`)."""

    client_id: str
    client_secret: str = field(repr=False)

    def basic_auth(self) -> tuple[str, str]:
        """RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding."""
        return (
            urllib.parse.quote(self.client_id, safe=""),
            urllib.parse.quote(self.client_secret, safe=""),
        )


class Introspector:
    """Asks whether a token is still active. A token is keyed by its SHA-256, never kept."""

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        cache_ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[bool, float]] = {}

    def is_active(self, http: httpx.Client, endpoint: str, token: str, expires_at: int) -> bool:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        active = self._ask(http, endpoint, token)
        with self._lock:
            if len(self._answers) >= MAX_CACHED:
                for old in list(self._answers)[: MAX_CACHED // 2]:
                    del self._answers[old]
            # An inactive token never comes back; an active one is asked again after the TTL.
            until = min(now + self._cache_ttl, expires_at) if active else float(expires_at)
            self._answers[key] = (active, until)
        return active

    def _ask(self, http: httpx.Client, endpoint: str, token: str) -> bool:
        try:
            response = http.post(
                endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._credentials.basic_auth(),
            )
        except httpx.HTTPError as error:
            raise IssuerUnavailable(f"cannot reach {endpoint}: {error}") from error
        if response.status_code != 200:
            # 401 is our own credentials being wrong: an operator's problem, not the caller's.
            raise IssuerUnavailable(f"/introspect answered {response.status_code}")
        try:
            return response.json().get("active") is True
        except (ValueError, AttributeError) as error:
            raise IssuerUnavailable(f"/introspect answered a malformed body: {error}") from error
