"""The token rate: how many tokens one client may be issued (AUTHSERVER_TOKEN_RATE_LIMIT).

Counted per authenticated client, never per the client a request merely names: the check
runs once Authlib has authenticated the client (AuthorizationServer.authenticate_client),
and only a token issued counts: the check counts the request at once (so that requests at
once cannot all pass it), and the /token view gives the use back unless it answers 200. So
a request that fails, or that names another client than the one it proves, spends
nobody's allowance, and no client escapes its own by naming another. The counters are
authserver.ratelimits', shared by instances through Redis.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import g

from authserver import ratelimits
from authserver.config import current_settings


class TokenRateExceeded(OAuth2Error):
    """429 in the token endpoint's JSON, with Retry-After."""

    error = "temporarily_unavailable"
    description = "Too many requests; see Retry-After."
    status_code = 429

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.wait))]


def _key(client_id: str) -> str:
    return "token:" + client_id


def check(client_id: str) -> None:
    """Count an authenticated client's request against its rate, or refuse it when the rate
    is spent; `settle` gives the use back if no token is issued."""
    rate = current_settings().token_rate_limit
    if not rate:
        return
    if wait := ratelimits.reserve(rate, _key(client_id)):
        raise TokenRateExceeded(wait)
    g.token_client_id = client_id


def settle(issued: bool) -> None:
    """At the end of a /token request: a use counted by `check` stays counted only when a
    token was issued."""
    client_id = g.pop("token_client_id", None)
    rate = current_settings().token_rate_limit
    if rate and client_id is not None and not issued:
        ratelimits.release(rate, _key(client_id))
