"""How fresh a sign-in a request asks for (prompt=login, max_age), as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from authserver.oauth.freshness import Freshness, asked_by

REQUESTED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return REQUESTED + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("params", "auth_time", "satisfied"),
    [
        ({}, at(-86400), True),
        ({"max_age": "300"}, at(-300), True),
        ({"max_age": "300"}, at(-301), False),
        ({"max_age": "0"}, at(0), True),
        ({"max_age": "0"}, at(-1), False),
        ({"prompt": "login"}, at(0), True),
        ({"prompt": "login"}, at(-1), False),
        ({"prompt": "login consent", "max_age": "600"}, at(-1), False),
        ({"prompt": "consent"}, at(-86400), True),
    ],
)
def test_an_auth_time_satisfies_the_request_when_recent_enough(
    params: dict, auth_time: datetime, satisfied: bool
) -> None:
    assert asked_by(params, REQUESTED).is_satisfied_by(auth_time) is satisfied


def test_max_age_counts_from_the_request_however_late_it_is_checked() -> None:
    asked = asked_by({"max_age": "300"}, REQUESTED)
    assert asked.not_before() == at(-300)


@pytest.mark.parametrize(
    ("freshness", "asks"),
    [
        (Freshness(REQUESTED), False),
        (Freshness(REQUESTED, prompt_login=True), True),
        (Freshness(REQUESTED, max_age=0), True),
    ],
)
def test_only_prompt_login_and_max_age_ask_for_reauthentication(
    freshness: Freshness, asks: bool
) -> None:
    assert freshness.asks_reauthentication is asks
