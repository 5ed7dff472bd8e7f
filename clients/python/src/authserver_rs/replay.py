"""The DPoP proofs seen (RFC 9449 §11.1): each proof's `jti` is accepted once per key while
the proof could still be accepted. In memory for one process by default; a service that runs
several processes or instances gives every one the same shared store (RedisReplayCache, or
its own ReplayCache), or a proof refused by one is accepted again by the next."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from authserver_rs.errors import ReplayCacheUnavailable

MAX_REMEMBERED = 100_000  # proofs one process remembers at once; past it, it refuses (503)


class ReplayCache(Protocol):
    """Where proofs seen are remembered. `key` is a hex SHA-256 (never the proof itself);
    `ttl` is how long it must be remembered, in seconds."""

    def first_use(self, key: str, ttl: float) -> bool:
        """Remember `key` for `ttl` seconds, atomically: True the first time, False while it
        is remembered. Raise ReplayCacheUnavailable when that cannot be told."""
        ...


class MemoryReplayCache:
    """One process's memory: thread-safe, each key forgotten when its time is up. Full
    (`max_entries` live keys), it refuses rather than forget a proof still in its window.

    Keys are kept in the order they came, which is their order of expiry when every proof
    is remembered as long (one policy's window): the expired ones are dropped from the
    front, a few per call, never by scanning everything under the lock."""

    def __init__(
        self, *, max_entries: int = MAX_REMEMBERED, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._until: OrderedDict[str, float] = OrderedDict()
        self._no_scan_before = -math.inf  # when full of live keys, the earliest expiry

    def first_use(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            self._forget_expired_in_front(now)
            until = self._until.get(key)
            if until is not None and now < until:
                return False
            if len(self._until) >= self._max_entries and now >= self._no_scan_before:
                self._forget_expired(now)  # keys remembered for different windows
            if len(self._until) >= self._max_entries:
                raise ReplayCacheUnavailable("the DPoP replay cache is full")
            self._until[key] = now + ttl
            self._until.move_to_end(key)
            return True

    def __len__(self) -> int:
        return len(self._until)

    def _forget_expired_in_front(self, now: float) -> None:
        while self._until:
            key, until = next(iter(self._until.items()))
            if until > now:
                return
            del self._until[key]

    def _forget_expired(self, now: float) -> None:
        for key in [key for key, until in self._until.items() if until <= now]:
            del self._until[key]
        self._no_scan_before = min(self._until.values(), default=-math.inf)


class RedisReplayCache:
    """A store shared by every process and instance: `SET key 1 NX EX ttl`, one atomic round
    trip. `client` is a `redis.Redis` (or anything with its `set`); this package does not
    depend on redis. Any failure of the client is ReplayCacheUnavailable (a 503)."""

    def __init__(self, client: Any, *, prefix: str = "authserver-rs:dpop:") -> None:
        self._client = client
        self._prefix = prefix

    def first_use(self, key: str, ttl: float) -> bool:
        try:
            stored = self._client.set(self._prefix + key, b"1", nx=True, ex=max(1, math.ceil(ttl)))
        except Exception as error:  # the client's own errors; we do not import redis
            raise ReplayCacheUnavailable(f"the DPoP replay cache failed: {error}") from error
        return bool(stored)
