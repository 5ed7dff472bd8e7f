"""What clients send to the OAuth endpoints, bounded and made canonical: one size rule for
every parameter of /authorize, /token, /revoke, /introspect and /logout, and one form of
a scope."""

from __future__ import annotations

from collections.abc import Mapping

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from werkzeug.datastructures import MultiDict

from authserver.oauth.scopes import SCOPES

# No value of ours comes near this (a code, a refresh token, a PKCE verifier of at most
# 128 characters, a redirect URI, a state), and a value is echoed (state, scope) or stored.
MAX_PARAMETER_LENGTH = 2048
# Except a token we issued, presented back: an access or ID token JWT lists up to MAX_ORGS
# organizations with their roles (oauth/claims.py), which can pass 2 kB.
MAX_TOKEN_LENGTH = 64 * 1024
CARRIES_A_TOKEN = frozenset({"token", "id_token_hint"})


def check_parameter_lengths(data: Mapping[str, str]) -> None:
    """RFC 6749 leaves sizes to the server; ours are bounded, names and values, so no
    request can grow a stored row or a response (a scope of "openid "×120000 did). Every
    value of a repeated parameter (`resource` may repeat, RFC 8707 §2) is bounded too."""
    items = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
    for name, value in items:
        limit = MAX_TOKEN_LENGTH if name in CARRIES_A_TOKEN else MAX_PARAMETER_LENGTH
        if len(name) > MAX_PARAMETER_LENGTH or len(value) > limit:
            raise InvalidRequestError(f"The parameter '{shown_name(name)}' is too long.")


def shown_name(name: str) -> str:
    """A parameter name as an error description may quote it (RFC 6749 §5.2 forbids some
    characters there, and Authlib raises on them)."""
    short = name[:40]
    return short if not invalid_error_characters(short) else "a parameter"


def normalize_scope(scope: str | None) -> str:
    """The one form of a scope (RFC 6749 §3.3: a set, order and repetition meaningless):
    each known scope once, in the order of SCOPES. Unknown names are dropped; the
    endpoints refuse them (invalid_scope) before this runs, so nothing is lost that
    could have been granted."""
    requested = set((scope or "").split())
    return " ".join(name for name in SCOPES if name in requested)
