"""Calls released at the same moment, each in its own thread, for the race tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

# Long enough for a loaded machine; short enough that a stuck call fails the test instead
# of hanging the run (a thread that never reaches the barrier breaks it for the others).
TIMEOUT = 30.0


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run each call in a thread of its own, all released together; their results, in order.

    What a call raises is raised here (the first, after every thread has ended), rather
    than lost in its thread while the test fails on a missing result; a call still running
    twice the timeout after the start fails the test."""
    barrier = threading.Barrier(len(calls), timeout=TIMEOUT)
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as error:
            errors.append(error)
            barrier.abort()  # those still waiting stop waiting

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2 * TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a concurrent call never ended"
    if errors:
        raise errors[0]
    return results
