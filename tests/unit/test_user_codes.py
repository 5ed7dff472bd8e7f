"""User codes of the device grant (RFC 8628 §6.1): pure rules."""

from __future__ import annotations

import pytest

from authserver.oauth.user_codes import ALPHABET, new_user_code, normalize_user_code


def test_a_new_code_is_eight_consonants_with_a_dash() -> None:
    code = new_user_code(lambda _: False)
    assert len(code) == 9 and code[4] == "-"
    assert set(code.replace("-", "")) <= set(ALPHABET)


def test_a_taken_code_is_drawn_again() -> None:
    taken: list[str] = []

    def is_taken(code: str) -> bool:
        taken.append(code)
        return len(taken) < 3

    code = new_user_code(is_taken)
    assert len(taken) == 3 and code.replace("-", "") == taken[-1]


@pytest.mark.parametrize("typed", ["BCDF-GHJK", "bcdfghjk", " bcdf ghjk ", "BC-DF-GH-JK"])
def test_case_dashes_and_spaces_do_not_matter(typed: str) -> None:
    assert normalize_user_code(typed) == "BCDFGHJK"


@pytest.mark.parametrize(
    "typed", ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1", "BCDF\x00GHJK", "B" * 41]
)
def test_what_cannot_be_a_code_is_none(typed: str) -> None:
    assert normalize_user_code(typed) is None
