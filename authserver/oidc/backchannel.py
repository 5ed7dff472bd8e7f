"""OIDC Back-Channel Logout 1.0: when a session ends, a logout token for each client that
holds a grant from it, queued in the outbox and POSTed by its worker with retries.

Queued in the transaction that ends the session (DESIGN "Boundaries"), so nothing is sent
for a change that rolled back and no request waits on a client's server. Authlib has no
back-channel logout; the token is signed by our KeyStore like every other token.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests
from flask import Flask

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.keys import current_key_store
from authserver.models import GrantFamily, OAuthClient, Session
from authserver.oauth.registration import RegistrationError, check_backchannel_logout_uri
from authserver.outbound import Bounded, Bounds
from authserver.outbox import store
from authserver.outbox.worker import PermanentFailure

KIND = "backchannel_logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # §2.4, and RFC 8725 §3.11: explicitly typed
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = 120  # seconds: a logout token is used at once (§2.4 exp)
TIMEOUT = (3.05, 5)  # connect, read: a slow client delays only the worker
# The whole delivery, however the client trickles its answer's status line and headers:
# the outbox worker that waits also delivers the mail.
DEADLINE = 10  # seconds
# RFC 9110 §15.5: a 4xx says the request itself is wrong, so repeating it cannot help,
# except for these two, which ask for a later try.
RETRIABLE_CLIENT_ERRORS = frozenset({408, 429})


def queue_for(session: Session) -> int:
    """§2.7: a message per client that holds a grant from `session` and registered a
    back-channel logout URI. Called by sessions.end() before the row goes; the caller
    commits. Returns how many were queued."""
    client_ids = GrantFamily.backchannel_clients_of_session(session.id)
    for client_id in client_ids:
        store.enqueue(
            KIND,
            {
                "client_id": client_id,
                "sub": str(session.user_id),
                "sid": str(session.id),
                # One jti for every attempt: a client that got a token whose answer we
                # missed recognises the retry (§2.6 replay detection).
                "jti": uuid.uuid4().hex,
            },
        )
    return len(client_ids)


def logout_token_claims(payload: dict[str, Any], issuer: str, now: int) -> dict[str, Any]:
    """§2.4: iss, aud, iat, exp, jti, events, sub and sid; never a nonce (§2.4: a logout
    token must not be mistaken for an ID token)."""
    return {
        "iss": issuer,
        "aud": payload["client_id"],
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": payload["jti"],
        "events": {EVENT: {}},
        "sub": payload["sub"],
        "sid": payload["sid"],
    }


class BackchannelLogoutHandler:
    """The outbox handler: sign the token at delivery (with the key active then) and POST
    it as §2.5 says, to the URI the client registers now."""

    def deliver(self, payload: dict[str, Any]) -> None:
        client = OAuthClient.find(payload["client_id"])
        if client is None or not client.backchannel_logout_uri:
            raise PermanentFailure("the client no longer registers a back-channel logout URI")
        uri = client.backchannel_logout_uri
        try:
            check_backchannel_logout_uri(uri)  # only https or loopback, also for old rows
        except RegistrationError as error:
            raise PermanentFailure(str(error)) from None
        claims = logout_token_claims(payload, current_settings().issuer, int(utcnow().timestamp()))
        token = current_key_store().sign(claims, typ=LOGOUT_TOKEN_TYPE)
        # §2.5: form-encoded logout_token. Redirects are not followed: the token goes to the
        # registered URI only. Only the status counts (§2.8): the answer's body is never read.
        with _LogoutSession() as session:
            status = session.post(
                uri, data={"logout_token": token}, allow_redirects=False
            ).status_code
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in RETRIABLE_CLIENT_ERRORS:
            # §2.8: the client refused the token (400): sending it again cannot help.
            raise PermanentFailure(f"the client answered HTTP {status}")
        raise requests.HTTPError(f"the client answered HTTP {status}")

    def redact(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload  # ids only; the signed token is never stored


class _LogoutSession(Bounded, requests.Session):
    def bounds(self) -> Bounds:
        return Bounds(max_bytes=0, seconds=DEADLINE, read_timeout=TIMEOUT, reads_body=False)


def init_backchannel(app: Flask) -> None:
    app.extensions.setdefault("authserver.outbox_handlers", {})[KIND] = BackchannelLogoutHandler()
