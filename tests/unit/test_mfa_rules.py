"""Pure second-factor rules: RFC 8176 amr values, acr, when a factor is owed, TOTP codes
(window, replay, ASCII digits), recovery code spelling."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from authserver.clock import utcnow
from authserver.mfa import amr, recovery_codes, totp


@pytest.mark.parametrize(
    ("methods", "expected"),
    [(["pwd"], None), (["google"], None), (["pwd", "otp", "mfa"], amr.ACR_MULTI_FACTOR)],
)
def test_acr_is_the_multi_factor_policy_only_when_a_second_factor_was_used(
    methods: list[str], expected: str | None
) -> None:
    assert amr.acr_for(methods) == expected


def test_a_second_factor_adds_its_methods_and_mfa_after_the_first() -> None:
    assert amr.with_second_factor(["pwd"], ["hwk", "user"]) == ["pwd", "hwk", "user", "mfa"]
    assert amr.with_second_factor(["pwd", "otp", "mfa"], ["otp"]) == ["pwd", "otp", "mfa"]


@pytest.mark.parametrize(
    ("synced", "expected"),
    [(False, ["hwk", "user", "mfa"]), (True, ["swk", "user", "mfa"])],
)
def test_a_passkey_sign_in_is_multi_factor_and_names_its_key_kind(
    synced: bool, expected: list[str]
) -> None:
    assert amr.passkey_methods(is_synced=synced) == expected


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ((), ["google"]),
        (("pwd", "mfa"), ["google", "pwd", "mfa"]),
        (("pwd", "made-up", "mfa "), ["google", "pwd"]),
    ],
    ids=["silent", "vouches-mfa", "unknown-values-dropped"],
)
def test_an_upstream_counts_only_for_the_rfc8176_values_it_sends(
    upstream: tuple[str, ...], expected: list[str]
) -> None:
    assert amr.upstream_methods("google", upstream) == expected


@pytest.mark.parametrize(
    ("methods", "has_own", "required", "owed"),
    [
        (["pwd"], False, False, False),
        (["pwd"], True, False, True),
        (["pwd"], False, True, True),
        (["google"], True, False, True),  # Google must not skip a factor the person chose
        (["google", "pwd", "mfa"], True, True, False),  # the upstream said it did two
        (["hwk", "user", "mfa"], True, True, False),  # a passkey
    ],
)
def test_a_second_factor_is_owed_after_a_single_first_one_when_enrolled_or_required(
    methods: list[str], has_own: bool, required: bool, owed: bool
) -> None:
    assert amr.owes_second_factor(methods, has_own_factor=has_own, is_required=required) is owed


@pytest.mark.parametrize(
    ("acr_values", "asked"),
    [
        (None, False),
        ("urn:other", False),
        (f"urn:other {amr.ACR_MULTI_FACTOR}", True),
        (amr.ACR_MULTI_FACTOR + "x", False),
    ],
)
def test_acr_values_ask_for_a_second_factor_only_by_the_exact_value(
    acr_values: str | None, asked: bool
) -> None:
    assert amr.asks_for_multi_factor(acr_values) is asked


def _app() -> tuple[str, pyotp.TOTP]:
    raw = pyotp.random_base32()
    return raw, pyotp.TOTP(raw)


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_a_code_of_this_step_or_one_either_side_is_accepted(steps: int) -> None:
    raw, app = _app()
    now = utcnow()
    assert totp.accepted_step(raw, app.at(now, counter_offset=steps), 0, now) is not None


@pytest.mark.parametrize("steps", [-2, 2])
def test_a_code_two_steps_away_is_refused(steps: int) -> None:
    raw, app = _app()
    now = utcnow()
    assert totp.accepted_step(raw, app.at(now, counter_offset=steps), 0, now) is None


def test_a_code_is_accepted_once_and_its_replay_is_refused() -> None:
    raw, app = _app()
    now = utcnow()
    step = totp.accepted_step(raw, app.at(now), 0, now)
    assert step is not None
    assert totp.accepted_step(raw, app.at(now), step, now) is None


def test_an_older_code_after_a_newer_one_is_a_replay() -> None:
    raw, app = _app()
    now = utcnow()
    earlier, later = app.at(now - timedelta(seconds=30)), app.at(now)
    step = totp.accepted_step(raw, later, 0, now)
    assert totp.accepted_step(raw, earlier, step, now) is None  # in the window, but older


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "１２３４５６", "٣٣٣٣٣٣", "12a456"])
def test_anything_but_six_ascii_digits_is_no_code(typed: str) -> None:
    assert totp.normalized(typed) is None


def test_spaces_people_type_in_a_code_are_ignored() -> None:
    raw, app = _app()
    now = utcnow()
    code = app.at(now)
    assert totp.accepted_step(raw, f" {code[:3]} {code[3:]} ", 0, now) is not None


@pytest.mark.parametrize("typed", ["ABCDE-FGHJK", "abcdefghjk", " abcde fghjk "])
def test_a_recovery_code_is_read_however_it_is_typed(typed: str) -> None:
    assert recovery_codes.normalized(typed) == "abcde-fghjk"


@pytest.mark.parametrize("typed", ["", "abcde-fghj", "abcde-fghjk1", "abcde-fghj0", "ábcde-fghjk"])
def test_a_recovery_code_of_the_wrong_shape_is_none(typed: str) -> None:
    assert recovery_codes.normalized(typed) is None
