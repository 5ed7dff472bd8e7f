"""What a failed client authentication tells the client, in words.

Authlib's description lists every method the endpoint accepts as a Python list
("['client_secret_basic', 'client_secret_post', 'none']"), whatever the client registered.
RFC 6749 §5.2's error_description is for the client developer: we say which method this
client is registered for. And every failed client authentication is a 401 with
`WWW-Authenticate: Basic` (§5.2 requires it after a Basic attempt and allows it always;
Authlib answers an unknown client_id in the body with 400), so the status never depends on
how the client presented itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from authserver.models import OAuthClient
from authserver.oauth.private_key_jwt import AssertionRefused

IN_WORDS = {
    "client_secret_basic": "HTTP Basic authentication with its client secret",
    "client_secret_post": "its client_id and client_secret in the request body",
    "private_key_jwt": "a client_assertion JWT signed with its private key",
    "none": "its client_id alone, as a public client",
}


def presented_client_id(request: Any) -> str | None:
    """The client the request names, as Authlib reads it (Basic user first)."""
    basic_id, _ = extract_basic_authorization(request.headers)
    return basic_id or request.payload.client_id or None


def described(
    error: InvalidClientError,
    request: Any,
    methods: Sequence[str],
    query_client: Callable[[str], OAuthClient | None],
) -> InvalidClientError:
    """`error` as a 401 with a description that names the client's own method. A refused
    client assertion keeps its own description: it says which rule the JWT broke."""
    error.status_code = 401
    if isinstance(error, AssertionRefused):
        return error
    client_id = presented_client_id(request)
    client = query_client(client_id) if client_id else None
    if client_id is None:
        error.description = "The request names no client: send client_id or HTTP Basic."
    elif client is None:
        error.description = "The client does not exist on this server."
    elif client.token_endpoint_auth_method not in methods:
        method = client.token_endpoint_auth_method
        error.description = f"This endpoint does not accept clients that use {IN_WORDS[method]}."
    else:
        method = client.token_endpoint_auth_method
        error.description = (
            f"The client authenticates with {IN_WORDS[method]} ({method}); "
            "those credentials are missing or wrong."
        )
    return error
