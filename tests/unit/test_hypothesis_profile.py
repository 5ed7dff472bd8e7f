"""CI replays one fixed sequence of generated examples; a developer's run explores."""

from __future__ import annotations

import os

from hypothesis import settings


def test_the_profile_follows_the_ci_variable() -> None:
    in_ci = bool(os.environ.get("CI"))
    assert settings.default.derandomize is in_ci
    assert (settings.default.database is None) is in_ci
