"""The counters behind every limit counted in a view (authserver/ratelimits.py), on both
storages the server uses: memory, and Redis shared by instances. A use is counted when it
is reserved, before its outcome is known, so that requests at once cannot all pass."""

from __future__ import annotations

import socket
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from authserver import create_app, ratelimits
from authserver.mail import limits as mail_limits
from tests import concurrency
from tests.conftest import make_settings
from tests.pages.test_shared_limits import (
    REDIS,
    limiter_restored,  # noqa: F401 (a fixture)
    redis_available,
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def use_storage(monkeypatch: pytest.MonkeyPatch, storage: Storage) -> None:
    counters = FixedWindowRateLimiter(storage)
    monkeypatch.setattr(ratelimits, "limiter", types.SimpleNamespace(limiter=counters))


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "memory":
        use_storage(monkeypatch, MemoryStorage())
    else:
        if not redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        shared = RedisStorage("redis://{}:{}/0".format(*REDIS), wrap_exceptions=True)
        use_storage(monkeypatch, shared)
    yield request.param


@pytest.fixture
def key() -> tuple[str, str]:
    return ("test", uuid.uuid4().hex)  # a counter of its own in the shared Redis


def reservations(rate: str, key: tuple[str, ...], count: int) -> list[int]:
    return [ratelimits.reserve(rate, *key) for _ in range(count)]


def test_a_reservation_counts_at_once(storage: str, key: tuple[str, str]) -> None:
    waits = reservations("3/minute", key, 4)  # none released: each counted as it was made
    assert waits[:3] == [0, 0, 0]
    assert 0 < waits[3] <= 61


def test_a_refused_reservation_counts_nothing(storage: str, key: tuple[str, str]) -> None:
    reservations("2/minute", key, 5)  # two taken, three refused
    ratelimits.release("2/minute", *key)
    assert ratelimits.reserve("2/minute", *key) == 0
    assert ratelimits.reserve("2/minute", *key) > 0


def test_a_released_use_can_be_taken_again(storage: str, key: tuple[str, str]) -> None:
    reservations("2/minute", key, 2)
    ratelimits.release("2/minute", *key)
    assert ratelimits.reserve("2/minute", *key) == 0
    assert ratelimits.reserve("2/minute", *key) > 0


def test_a_window_that_refuses_gives_back_the_others(storage: str, key: tuple[str, str]) -> None:
    assert reservations("3 per minute;2 per hour", key, 3)[2] > 0  # the hour refuses
    # The minute counted two, not three: the refused request left it untouched.
    assert ratelimits.reserve("3 per minute", *key) == 0
    assert ratelimits.reserve("3 per minute", *key) > 0


def test_releasing_more_than_was_reserved_gives_no_extra_use(
    storage: str, key: tuple[str, str]
) -> None:
    for _ in range(3):
        ratelimits.release("2/minute", *key)  # on a counter that does not exist yet
    assert reservations("2/minute", key, 3)[2] > 0
    for _ in range(5):
        ratelimits.release("2/minute", *key)
    assert reservations("2/minute", key, 3)[2] > 0


def test_reservations_at_once_get_the_allowance_between_them(
    storage: str, key: tuple[str, str]
) -> None:
    waits = concurrency.at_once([lambda: ratelimits.reserve("5/minute", *key)] * 30)
    assert waits.count(0) == 5


def test_with_redis_unreachable_the_counting_goes_on_in_memory(
    monkeypatch: pytest.MonkeyPatch, key: tuple[str, str]
) -> None:
    down = RedisStorage(f"redis://127.0.0.1:{closed_port()}/0", wrap_exceptions=True)
    use_storage(monkeypatch, down)
    monkeypatch.setattr(ratelimits, "_outage_counters", FixedWindowRateLimiter(MemoryStorage()))
    assert reservations("2/minute", key, 2) == [0, 0]
    ratelimits.release("2/minute", *key)
    assert reservations("2/minute", key, 2)[1] > 0


@pytest.mark.usefixtures("limiter_restored")
def test_the_mail_limit_counts_on_through_a_redis_outage(tmp_path: Path) -> None:
    """It counted on Flask-Limiter's storage directly: with Redis unreachable, asking for a
    password reset or an invitation raised StorageError instead of counting in memory."""
    down = f"redis://127.0.0.1:{closed_port()}/0"
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path}/a.db", redis_url=down))
    address = f"{uuid.uuid4().hex}@example.com"
    with app.test_request_context():
        assert [mail_limits.may_mail(address) for _ in range(6)] == [True] * 5 + [False]
