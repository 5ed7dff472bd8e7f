"""Park an /authorize request server-side while the person signs in, and resume it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from werkzeug.datastructures import MultiDict

from authserver.clock import utcnow
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.models import PendingAuthorization
from authserver.numbers import ascii_uuid

# Long enough to sign in upstream and come back; short enough not to pile up.
PENDING_TTL = timedelta(minutes=15)
MAX_PARAMS = 40


def park(
    params: Mapping[str, str], client_id: str, *, pushed: bool = False
) -> PendingAuthorization:
    """Store the validated query (or the parameters a client pushed to /par); the caller
    commits. Repeated parameters were refused before we get here, so one value per name
    is the whole request."""
    now = utcnow()
    pending = PendingAuthorization(
        client_id=client_id,
        params={name: params[name] for name in list(params)[:MAX_PARAMS]},
        created_at=now,
        expires_at=now + PENDING_TTL,
        pushed=pushed,
    )
    db.session.add(pending)
    db.session.flush()
    return pending


def find(pending_id: str) -> PendingAuthorization | None:
    try:
        key = ascii_uuid(pending_id)
    except ValueError:
        return None
    return PendingAuthorization.find_live(key)


def expired_page() -> tuple[str, int]:
    return render_error_page(
        "This sign-in request has expired",
        "Go back to the app you came from and start again.",
        status=400,
    )


class _ParkedPayload(OAuth2Payload):
    def __init__(self, params: dict[str, str]) -> None:
        self._data = MultiDict(params)

    @property
    def data(self) -> MultiDict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {name: self._data.getlist(name) for name in self._data}


class ParkedRequest(OAuth2Request):
    """An Authlib request built from stored parameters, so that resuming runs every
    /authorize check again (STYLE "One request, end to end", step 4); /par validates
    what a client pushed with it too. `pushed`: the parameters came through /par."""

    def __init__(
        self, params: Mapping[str, str], uri: str, headers: object, *, pushed: bool
    ) -> None:
        super().__init__(method="GET", uri=uri, headers=headers)
        self.payload = _ParkedPayload(dict(params))
        self.pushed = pushed

    @classmethod
    def of(cls, pending: PendingAuthorization, uri: str, headers: object) -> ParkedRequest:
        return cls(pending.params, uri, headers, pushed=pending.pushed)

    @property
    def args(self) -> MultiDict[str, str]:
        return self.payload.data

    @property
    def form(self) -> MultiDict[str, str]:
        return MultiDict()
