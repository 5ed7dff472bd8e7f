"""RFC 8707 resource indicators at the token endpoint: which service a token is for.

At /authorize, `resource` names the service a grant is for (oauth/checks.py check_resource).
At /token the client may name it again, for the code exchange and every refresh (RFC 8707
§2.2): only within what the grant allows, one service at a time; without it the token is
for the grant's own resource.
"""

from __future__ import annotations

from collections.abc import Sequence

from authserver.oauth.checks import InvalidTargetError


def token_resource(requested: Sequence[str], granted: Sequence[str]) -> str | None:
    """The service the token is for: the one requested, when the grant was issued for it;
    else the grant's own (None: the client's own audience)."""
    if not requested:
        return granted[0] if granted else None
    if len(requested) > 1:
        raise InvalidTargetError("Ask for one resource at a time.")
    if requested[0] not in granted:
        # RFC 8707 §2.2: a token endpoint request may not reach beyond the grant.
        raise InvalidTargetError("The resource is not one this grant was issued for.")
    return requested[0]
