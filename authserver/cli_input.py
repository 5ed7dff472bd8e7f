"""What the CLI refuses in one line: a file or an argument it cannot read as text we can
store, and what it says of a database without our schema (errors.is_missing_schema)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

import click

from authserver.text import has_unstorable_text, is_storable

RUN_INIT = "the database has no authserver schema, or an older one; run `authserver init`"


def read_json_file(file: IO[bytes], param_hint: str) -> Any:
    """A JSON document from a file opened in binary: UTF-8 (RFC 8259 §8.1), JSON, every
    string one we can store; else click.BadParameter (one line, exit 2)."""
    try:
        text = file.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise click.BadParameter(
            f"not UTF-8 (byte {error.start} cannot be decoded)", param_hint=param_hint
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(
            f"not JSON ({error.msg}, line {error.lineno})", param_hint=param_hint
        ) from None
    except (RecursionError, ValueError):  # nested past the parser; a 5000-digit number
        raise click.BadParameter("not JSON this server can read", param_hint=param_hint) from None
    if has_unstorable_text(document):
        raise click.BadParameter(
            "a string holds a NUL character or a lone surrogate", param_hint=param_hint
        )
    return document


def unstorable_argument(argv: Sequence[str]) -> str | None:
    """The first command-line word that is not storable text: Python reads bytes that are
    not UTF-8 as lone surrogates (PEP 383), which no database write can encode."""
    for word in argv:
        if not is_storable(word):
            return word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return None
