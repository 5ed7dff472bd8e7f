"""The race tests' helper must release calls together and never hide a failure."""

from __future__ import annotations

import threading

import pytest

from tests.concurrency import at_once


def test_calls_run_together_and_answer_in_order() -> None:
    running, seen = threading.Barrier(3, timeout=5), []

    def call(n: int) -> int:
        running.wait()  # passes only if all three are running at once
        seen.append(n)
        return n * 10

    assert at_once([lambda n=n: call(n) for n in range(3)]) == [0, 10, 20]
    assert sorted(seen) == [0, 1, 2]


def test_what_a_call_raises_is_raised_to_the_test() -> None:
    def fails() -> int:
        raise LookupError("in the thread")

    with pytest.raises(LookupError, match="in the thread"):
        at_once([fails, lambda: 1, lambda: 2])
