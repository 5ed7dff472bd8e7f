"""User codes of the device grant (RFC 8628 §6.1): short, typed by a person, unambiguous.

Twenty consonants with no vowels (no words, no 0/O or 1/I confusion), eight of them
(20^8, about 2.6e10 codes) shown as BCDF-GHJK. What a person types is read case-insensitively
with dashes and spaces ignored. Guessing is bounded per signed-in person (device/routes.py).
Pure rules: plain arguments, no app.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
LENGTH = 8
MAX_TYPED = 40  # what a person might type around a code: spaces, dashes


def new_user_code(is_taken: Callable[[str], bool]) -> str:
    """A fresh code, shown with a dash; one already stored is drawn again."""
    while True:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if not is_taken(raw):
            return f"{raw[:4]}-{raw[4:]}"


def normalize_user_code(typed: str) -> str | None:
    """The stored form of what was typed, or None when it cannot be a code."""
    if len(typed) > MAX_TYPED:
        return None
    code = "".join(char for char in typed.upper() if char not in "- ")
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code
