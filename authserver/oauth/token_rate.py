"""The token rate: how many tokens one client may be issued (AUTHSERVER_TOKEN_RATE_LIMIT).

Counted per authenticated client, never per the client a request merely names: the check
runs once Authlib has authenticated the client (AuthorizationServer.authenticate_client),
and only a token issued counts (the /token view, on a 200). So a request that fails, or
that names another client than the one it proves, spends nobody's allowance, and no
client escapes its own by naming another. The counters are authserver.ratelimits', shared
by instances through Redis.
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
    """Refuse an authenticated client over its rate; remember it for `count_issued`."""
    g.token_client_id = client_id
    rate = current_settings().token_rate_limit
    if rate and (wait := ratelimits.wait_seconds(rate, _key(client_id))):
        raise TokenRateExceeded(wait)


def count_issued() -> None:
    """One token issued to the client `check` let through in this request."""
    rate = current_settings().token_rate_limit
    client_id = g.pop("token_client_id", None)
    if rate and client_id is not None:
        ratelimits.count(rate, _key(client_id))
