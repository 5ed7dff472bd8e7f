"""The /authorize checks Authlib does not make, run in order inside its validation."""

from __future__ import annotations

import re
from collections.abc import Mapping

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant

from authserver.config import current_settings
from authserver.models import Service
from authserver.numbers import parse_ascii_int
from authserver.oauth.claims import SLUG_PATTERN
from authserver.oauth.parameters import check_parameter_lengths
from authserver.oauth.scopes import USER_SCOPES

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
PROMPTS = frozenset({"none", "login", "consent"})
MAX_AGE_MAXIMUM = 9_999_999_999  # ten digits, as before: over 300 years


# Authlib copies these values into error descriptions, and cannot build an error whose
# description holds characters RFC 6749 §5.2 forbids there (a ValueError, so a 500). No
# valid value contains them, so such a request is refused before Authlib reads it.
ECHOED_BY_AUTHLIB = ("response_type", "redirect_uri")


def has_unechoable_values(values: Mapping[str, str]) -> bool:
    return any(invalid_error_characters(values.get(name) or "") for name in ECHOED_BY_AUTHLIB)


def require_pkce_s256(request: OAuth2Request) -> None:
    """Stricter than RFC 9700 §2.1.1: every client uses PKCE, and only S256 (a missing
    method would mean `plain` under RFC 7636 §4.3)."""
    data = request.payload.data
    if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
        raise InvalidRequestError("PKCE with code_challenge_method 'S256' is required.")


def check_scope_allowed(request: OAuth2Request) -> None:
    """Every requested scope must be one the client was registered for, and one a person
    may grant (a service scope never goes into a person's token)."""
    requested = set((request.payload.scope or "").split())
    if not requested <= set(request.client.scopes) & USER_SCOPES:
        raise InvalidScopeError("The client may not request some of these scopes.")


def check_prompt(request: OAuth2Request) -> None:
    """OIDC Core §3.1.2.1: known values only, and `none` never with another."""
    values = set((request.payload.data.get("prompt") or "").split())
    if not values <= PROMPTS or ("none" in values and len(values) > 1):
        raise InvalidRequestError("The prompt parameter is invalid.")


def check_max_age(request: OAuth2Request) -> None:
    value = request.payload.data.get("max_age")
    if value is not None and parse_ascii_int(value, maximum=MAX_AGE_MAXIMUM) is None:
        raise InvalidRequestError("max_age must be a whole number of seconds.")


def check_organization(request: OAuth2Request) -> None:
    """`organization` names an org by id or slug; membership is checked once the person
    is known (oauth/authorize.py)."""
    value = request.payload.data.get("organization")
    if value is None:
        return
    if not (UUID_PATTERN.match(value) or SLUG_PATTERN.match(value)):
        raise InvalidRequestError("The organization parameter is invalid.")


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is unknown or not acceptable."""

    error = "invalid_target"


def check_resource(request: OAuth2Request) -> None:
    """RFC 8707: `resource` names one service whose manifest this server knows; the token
    is then for that service only."""
    values = request.payload.datalist.get("resource", [])
    if not values:
        return
    if len(values) > 1:
        raise InvalidTargetError("Ask for one resource at a time.")
    if Service.find(values[0]) is None:
        raise InvalidTargetError("The resource is not a service known to this server.")


def check_pushed(request: OAuth2Request) -> None:
    """RFC 9126 §5-6: a client registered with require_pushed_authorization_requests (or
    every client, when the server requires it) sends its requests only through /par."""
    if getattr(request, "pushed", False):
        return
    required = current_settings().require_pushed_authorization_requests
    if required or request.client.require_pushed_authorization_requests:
        raise InvalidRequestError("This client must push its authorization requests to /par.")


def check_lengths(request: OAuth2Request) -> None:
    check_parameter_lengths(request.payload.data)  # the rule of every OAuth endpoint


AUTHORIZE_CHECKS = (
    check_lengths,
    check_pushed,
    require_pkce_s256,
    check_scope_allowed,
    check_prompt,
    check_max_age,
    check_organization,
    check_resource,
)


class AuthorizeChecks:
    """Runs AUTHORIZE_CHECKS in order inside Authlib's validation, so errors redirect correctly."""

    def __call__(self, grant: AuthorizationCodeGrant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.run)

    def run(self, grant: AuthorizationCodeGrant, _result: object = None) -> None:
        for check in AUTHORIZE_CHECKS:
            check(grant.request)
