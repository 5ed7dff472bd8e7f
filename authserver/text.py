"""Text that every store and protocol of ours can hold: no NUL, no lone UTF-16 surrogate."""

from __future__ import annotations

import re
from typing import Any

# PostgreSQL text cannot hold NUL (the driver raises DataError), and a lone surrogate
# ("\ud800", which JSON can spell) has no UTF-8 form at all (UnicodeEncodeError). No valid
# value of ours contains either, and both would otherwise surface as a 500.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(text: str) -> bool:
    return UNSTORABLE.search(text) is None


def has_unstorable_text(value: Any) -> bool:
    """Any string in a value made of str, dict and list (form values, a JSON document),
    keys included. Walked with a stack, not recursion: a JSON body may nest deeply."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_storable(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False
