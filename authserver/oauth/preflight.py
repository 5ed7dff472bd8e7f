"""Checks on the raw HTTP request before Authlib reads it at /token, /revoke, /introspect.

Authlib takes the last of repeated parameters and raises (a 500) on an Authorization header
that is blank, one word followed by a space, or Basic credentials that are not UTF-8;
RFC 6749 §3.2 wants the first refused and §2.3.1 the second answered as a client
authentication failure. Every parameter is bounded in size, by the rule /authorize shares.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from werkzeug.datastructures import Headers, MultiDict

from authserver.oauth.parameters import check_parameter_lengths, shown_name


def check_request(form: MultiDict[str, str], headers: Headers) -> None:
    check_no_repeated_parameters(form)
    check_parameter_lengths(form)
    basic_client_id = check_basic_authorization(headers)
    if basic_client_id is not None:
        check_one_authentication_method(form, basic_client_id)


def check_grant_type_present(form: MultiDict[str, str]) -> None:
    """RFC 6749 §5.2: a missing required parameter is invalid_request (Authlib would say
    unsupported_grant_type, which names a grant type the client did not send)."""
    if not form.get("grant_type"):
        raise InvalidRequestError("Missing 'grant_type' in request.")


def check_no_repeated_parameters(form: MultiDict[str, str]) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once. RFC 8707 §2 lets
    `resource` repeat; oauth/resources.py answers that with invalid_target."""
    for name, values in form.lists():
        if len(values) > 1 and name != "resource":
            raise InvalidRequestError(f"The parameter '{shown_name(name)}' is repeated.")


def check_basic_authorization(headers: Headers) -> str | None:
    """The client id of well-formed Basic credentials, None without them."""
    header = headers.get("Authorization")
    if header is None:
        return None
    # As Authlib splits it; Authlib fails on a header with a space but only one word ("x ").
    parts = header.split(None, 1)
    if len(parts) < 2:
        raise InvalidClientError(
            description="The Authorization header carries no credentials.", status_code=401
        )
    if parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
        decoded = ""
    if ":" not in decoded or "\x00" in decoded:
        raise InvalidClientError(
            description="The Basic credentials are malformed.", status_code=401
        )
    return unquote(decoded.partition(":")[0])  # RFC 6749 §2.3.1: form-urlencoded


def check_one_authentication_method(form: MultiDict[str, str], basic_client_id: str) -> None:
    """RFC 6749 §2.3: one authentication method per request. Beside Basic credentials the
    body may repeat the same client_id (§3.2.1), but not name another client nor carry a
    client_secret. Authlib would accept the Basic credentials and ignore the rest."""
    if "client_secret" in form or "client_assertion" in form:
        raise InvalidRequestError("Use one client authentication method, not two.")
    client_id = form.get("client_id")
    if client_id and client_id != basic_client_id:
        raise InvalidClientError(
            description="The client_id does not match the credentials.", status_code=401
        )
