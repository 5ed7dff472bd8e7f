"""Checks on the raw HTTP request before Authlib reads it at /token, /revoke, /introspect.

Authlib takes the last of repeated parameters and raises (a 500) on a Basic header that is
empty or not UTF-8; RFC 6749 §3.2 wants the first refused and §2.3.1 the second answered
as a client authentication failure.
"""

from __future__ import annotations

import base64
import binascii

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from werkzeug.datastructures import Headers, MultiDict


def check_request(form: MultiDict[str, str], headers: Headers) -> None:
    check_no_repeated_parameters(form)
    check_basic_authorization(headers)


def check_no_repeated_parameters(form: MultiDict[str, str]) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once."""
    for name, values in form.lists():
        if len(values) > 1:
            raise InvalidRequestError(f"The parameter '{name[:40]}' is repeated.")


def check_basic_authorization(headers: Headers) -> None:
    header = headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if ":" not in decoded:
        raise InvalidClientError(
            description="The Basic credentials are malformed.", status_code=401
        )
