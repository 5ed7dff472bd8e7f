"""Limits counted inside a view, once it knows who is asking: the same counters as
Flask-Limiter (Redis when AUTHSERVER_REDIS_URL is set), in memory while Redis is down.

A decorator's key is computed before the view authenticates anyone, so a key taken from
the URL or a form lets a stranger spend the allowance of the account or service it names.
Views call these functions after authentication instead, with the caller's own key: each
request reserves its use first, and gives it back when the outcome does not count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
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


def reserve(rate: str, *key: str) -> int:
    """Count one use of `key` against every window of `rate` now, before the outcome is
    known; the seconds to wait when a window is spent (and then nothing stays counted),
    else 0. A use that turns out not to count (a right password, a token not issued) is
    given back with `release`.

    Each window is one atomic increment that reads back its own count, so N requests at
    once get at most the allowance between them. Testing the count and adding to it after
    the outcome, as two steps, let every one of them pass the test before any was counted:
    N guesses at a password for the price of the limit."""

    def take(counters: RateLimiter) -> int:
        taken: list[RateLimitItem] = []
        for item in parse_many(rate):
            taken.append(item)
            if not counters.hit(item, PREFIX, *key):
                for spent in taken:  # the refused hit was counted too
                    _give_back(counters, spent, key)
                reset = counters.get_window_stats(item, PREFIX, *key).reset_time
                return max(1, int(reset - time.time()) + 1)
        return 0

    return _on_counters(take)


def release(rate: str, *key: str) -> None:
    """Give back one use that `reserve` counted and that turned out not to count."""

    def give_back(counters: RateLimiter) -> None:
        for item in parse_many(rate):
            _give_back(counters, item, key)

    _on_counters(give_back)


def spend(rate: str, *key: str) -> None:
    """Count one use of `key`, or raise a 429 problem with Retry-After when it is spent
    (a refused request is not counted)."""
    wait = reserve(rate, *key)
    if wait:
        raise Problem(
            429,
            "too-many-requests",
            "Too many requests; try again later.",
            headers={"Retry-After": str(wait)},
        )


# Redis has no decrement that stops at zero, and the window's counter may expire between a
# read and a DECR: a DECR on the missing key would start the next window at -1, one use
# more than the limit. One script does the read and the decrement as a single step.
_DECREMENT_ABOVE_ZERO = """
if (tonumber(redis.call('get', KEYS[1])) or 0) > 0 then
    return redis.call('decr', KEYS[1])
end
return 0
"""


def _give_back(counters: RateLimiter, item: RateLimitItem, key: tuple[str, ...]) -> None:
    storage = counters.storage
    counter = item.key_for(PREFIX, *key)
    if isinstance(storage, RedisStorage):
        try:
            storage.get_connection().eval(_DECREMENT_ABOVE_ZERO, 1, storage.prefixed_key(counter))
        except storage.base_exceptions as error:  # as limits' own calls report it
            raise StorageError(error) from error
    elif isinstance(storage, MemoryStorage):
        storage.decr(counter)  # under the counter's lock, never below zero
    else:
        raise TypeError(f"no way to give back a use on {type(storage).__name__}")
