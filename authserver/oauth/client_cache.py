"""A per-worker cache of registered clients, read by the protocol endpoints.

Every request to /token, /introspect and /revoke authenticates its client. Reading that row
was the largest cost of a client_credentials token (benchmarks/RESULTS.md), and client rows
change rarely, so each worker keeps what it read for AUTHSERVER_CLIENT_CACHE_TTL seconds
(default 5; 0 turns the cache off). Clients change through the CLI, in another process, so
a change such as a deleted client or a new secret takes effect in every worker within
that time.

Cached clients are detached from every database session: they are read, never written
through, and nothing in the protocol code links a row to them by relationship (rows take
`client.id`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import current_app

from authserver.extensions import db
from authserver.models import OAuthClient

MAX_ENTRIES = 10_000  # unknown ids are remembered too; a flood of them cannot grow the cache


class ClientCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, OAuthClient | None]] = {}
        self._lock = threading.Lock()

    def find(self, client_id: str) -> OAuthClient | None:
        if self.ttl <= 0:
            return OAuthClient.find(client_id)
        now = self._clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        client = OAuthClient.find(client_id)
        if client is not None:
            db.session.expunge(client)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = (now + self.ttl, client)
        return client


def current_client_cache() -> ClientCache:
    return current_app.extensions["authserver.client_cache"]
