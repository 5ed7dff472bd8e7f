"""parse_ascii_int: ASCII digits only, never Unicode digits, signs, spaces or underscores."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authserver.numbers import MAX_DIGITS, ascii_uuid, parse_ascii_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("007", 7), ("300", 300), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS))],
)
def test_ascii_digits_are_a_number(text: str, expected: int) -> None:
    assert parse_ascii_int(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "²", "٣", "٣٠٠", "３", "𝟗", "1²", " 3", "3 ", "3\n", "+3", "-3", "3_000", "0x10", "1e3",
     "3.0", "9" * (MAX_DIGITS + 1)],
)  # fmt: skip
def test_anything_else_is_not_a_number(text: str) -> None:
    assert parse_ascii_int(text) is None


def test_a_number_above_the_maximum_is_refused() -> None:
    assert parse_ascii_int("200", maximum=200) == 200
    assert parse_ascii_int("201", maximum=200) is None


@given(st.text(max_size=25))
def test_only_what_an_ascii_digit_pattern_matches_is_a_number(text: str) -> None:
    is_ascii_number = re.fullmatch(f"[0-9]{{1,{MAX_DIGITS}}}", text) is not None
    assert (parse_ascii_int(text) is not None) == is_ascii_number
    if is_ascii_number:
        assert parse_ascii_int(text) == int(text)


@pytest.mark.parametrize(
    "text",
    ["12345678-1234-1234-1234-123456789abc", "123456781234123412341234567890AB"],
)
def test_a_uuid_in_ascii_hex_is_an_id(text: str) -> None:
    assert ascii_uuid(text) == uuid.UUID(text)


@pytest.mark.parametrize(
    "text",
    ["١٢٣٤٥٦٧٨-1234-1234-1234-123456789abc", "{12345678-1234-1234-1234-123456789abc}",
     "urn:uuid:12345678-1234-1234-1234-123456789abc", "", "not-a-uuid"],
)  # fmt: skip
def test_any_other_spelling_is_not(text: str) -> None:
    with pytest.raises(ValueError):
        ascii_uuid(text)
