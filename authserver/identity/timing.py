"""Answers whose duration must not tell whether an address has an account.

The forms that answer "the same page either way" (forgot password, sign-up) do more work
for an address that has an account: a token, two rendered mail parts, an outbox row. A
stranger timing the answers could tell the two apart (security review: 6.7 ms against
1.3 ms). Each such answer is held to a floor well above the work of either path, so both
fall in one timing class.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

# Above the slower path of each form on a loaded server (sign-up hashes a password).
RESET_FLOOR_SECONDS = 0.15
SIGN_UP_FLOOR_SECONDS = 0.4


@contextmanager
def at_least(seconds: float) -> Iterator[None]:
    """The block, then a wait until `seconds` have passed since it began."""
    started = time.monotonic()
    yield
    left = seconds - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
