"""Numbers from text: ASCII digits only, wherever a request, a setting or a command line
gives one (whole numbers, and ids, which are 128-bit numbers in hex)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import click

# Not \d, str.isdigit() or int(): those take every Unicode digit ("٣" is 3, "²" passes
# isdigit() and then fails int()), and int() also takes " 3 " and "3_000". A number on
# the wire is ASCII (RFC 5234 DIGIT), so anything else is refused, never reinterpreted.
ASCII_DIGITS = re.compile(r"[0-9]+")
# Enough for any count or duration of ours, and far below int()'s 4300-digit limit.
MAX_DIGITS = 18


def parse_ascii_int(text: str, *, maximum: int | None = None) -> int | None:
    """The whole number `text` spells in ASCII digits (leading zeros allowed), or None for
    anything else: empty, signed, spaced, non-ASCII digits, longer than MAX_DIGITS, or
    above `maximum`."""
    if len(text) > MAX_DIGITS or ASCII_DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    if maximum is not None and value > maximum:
        return None
    return value


# The spellings of a UUID we hand out and accept: hex digits, hyphens optional.
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def ascii_uuid(text: str) -> uuid.UUID:
    """uuid.UUID(text), for UUID_TEXT only; ValueError otherwise. uuid.UUID alone reads
    "٣" as 3 (it calls int(text, 16)), so one id would have many spellings."""
    if not isinstance(text, str) or UUID_TEXT.fullmatch(text) is None:
        raise ValueError("not a UUID")
    return uuid.UUID(text)


class AsciiIntRange(click.ParamType):
    """click.IntRange, parsed with parse_ascii_int (click's own calls int())."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):  # a default
            return value
        number = parse_ascii_int(str(value), maximum=self.maximum)
        if number is None or number < self.minimum:
            self.fail(
                f"{value!r} is not a whole number from {self.minimum} to {self.maximum}",
                param,
                ctx,
            )
        return number
