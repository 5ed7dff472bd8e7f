"""The app a page is shown for: the client of the parked /authorize request, if any."""

from __future__ import annotations

from flask import g, has_request_context, request
from werkzeug.exceptions import HTTPException

from authserver.models import OAuthClient, PendingAuthorization
from authserver.oauth import pending


def asking_request() -> PendingAuthorization | None:
    """The parked request named by the page's `pending` parameter or path, once per request."""
    if not has_request_context():
        return None
    if "asking_request" not in g:
        pending_id = (
            request.args.get("pending")
            or _form_value("pending")
            or (request.view_args or {}).get("pending_id")
        )
        g.asking_request = pending.find(pending_id) if isinstance(pending_id, str) else None
    return g.asking_request


def asking_client() -> OAuthClient | None:
    parked = asking_request()
    return OAuthClient.find(parked.client_id) if parked else None


def _form_value(name: str) -> str | None:
    """A form field, or None when the body cannot be read: the page that says so (413, a
    body cut short) is rendered through here too and must not fail on the same body."""
    try:
        return request.form.get(name)
    except HTTPException:
        return None
