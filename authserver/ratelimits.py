"""Limits counted inside a view, once it knows who is asking: the same counters as
Flask-Limiter (Redis when AUTHSERVER_REDIS_URL is set), in memory while Redis is down.

A decorator's key is computed before the view authenticates anyone, so a key taken from
the URL or a form lets a stranger spend the allowance of the account or service it names.
Views call these functions after authentication instead, with the caller's own key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from authserver.errors import Problem
from authserver.extensions import limiter

log = logging.getLogger(__name__)

PREFIX = "authserver"
# Counts while the shared storage is unreachable: a Redis outage must neither lock everyone
# out nor switch the limits off.
_outage_counters = FixedWindowRateLimiter(MemoryStorage())
T = TypeVar("T")


def _on_counters(use: Callable[[RateLimiter], T]) -> T:
    try:
        return use(limiter.limiter)
    except StorageError as error:
        log.warning("rate limit storage unreachable, counting in memory: %s", error)
        return use(_outage_counters)


def wait_seconds(rate: str, *key: str) -> int:
    """Seconds until `key` may try again under `rate` ("5 per minute;20 per hour"); 0 when
    it may now. Counts nothing."""

    def seconds(counters: RateLimiter) -> int:
        waits = [
            counters.get_window_stats(item, PREFIX, *key).reset_time - time.time()
            for item in parse_many(rate)
            if not counters.test(item, PREFIX, *key)
        ]
        return max(1, int(max(waits)) + 1) if waits else 0

    return _on_counters(seconds)


def count(rate: str, *key: str) -> None:
    """Count one use of `key` against every window of `rate`."""

    def hit(counters: RateLimiter) -> None:
        for item in parse_many(rate):
            counters.hit(item, PREFIX, *key)

    _on_counters(hit)


def spend(rate: str, *key: str) -> None:
    """Count one use of `key`, or raise a 429 problem with Retry-After when it is spent
    (a refused request is not counted)."""
    wait = wait_seconds(rate, *key)
    if wait:
        raise Problem(
            429,
            "too-many-requests",
            "Too many requests; try again later.",
            headers={"Retry-After": str(wait)},
        )
    count(rate, *key)
