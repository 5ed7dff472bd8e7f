"""The app a page is shown for: the client of the parked /authorize request, if any."""

from __future__ import annotations

from flask import g, has_request_context, request

from authserver.models import OAuthClient, PendingAuthorization
from authserver.oauth import pending


def asking_request() -> PendingAuthorization | None:
    """The parked request named by the page's `pending` parameter or path, once per request."""
    if not has_request_context():
        return None
    if "asking_request" not in g:
        pending_id = request.values.get("pending") or (request.view_args or {}).get("pending_id")
        g.asking_request = pending.find(pending_id) if isinstance(pending_id, str) else None
    return g.asking_request


def asking_client() -> OAuthClient | None:
    parked = asking_request()
    return OAuthClient.find(parked.client_id) if parked else None
