"""The /api/v1 request body: JSON only, parsed once, every string one we can store."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

from authserver.errors import Problem
from authserver.text import has_unstorable_text

JSON = "application/json"


def read_json() -> Any:
    """Parse the body before any view does (views then get Flask's cached document), and
    refuse what no view could use: not JSON, nested past the parser, or holding a NUL or a
    lone surrogate (RFC 8259 §8.2 lets "\\ud800" through; it has no UTF-8 form). An empty
    body is no document (a DELETE labelled JSON), and the view decides what it needs."""
    if not request.get_data(cache=True):
        return None
    try:
        document = request.get_json()
    except BadRequest:
        raise Problem(400, "invalid-json", "The body is not valid JSON.") from None
    except RecursionError:
        raise Problem(400, "invalid-json", "The JSON document is nested too deeply.") from None
    if has_unstorable_text(document):
        raise Problem(
            400, "invalid-text", "A string in the body holds a NUL character or a lone surrogate."
        )
    return document
