"""OIDC Back-Channel Logout 1.0: a session ends, the outbox worker POSTs a logout token to
each client of it, and a real receiver on loopback verifies it with our JWKS over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from werkzeug.serving import make_server

from authserver.extensions import db
from authserver.identity import accounts
from authserver.models import OutboxMessage, User
from authserver.oidc import backchannel
from authserver.outbox import worker
from tests.factories import make_user
from tests.jwks_server import TricklingServer
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    issue_code,
    pkce_pair,
    redeem,
    register_client,
    sign_in,
)


@pytest.fixture
def jwks_url(app: Flask) -> Iterator[str]:
    """Our own app served over real HTTP on loopback, for the receiver to fetch the JWKS."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    thread.join(timeout=5)


@dataclass
class Receiver:
    """A client's back-channel logout endpoint, verifying as §2.6 says."""

    jwks_url: str
    url: str = ""
    answers: list[int] = field(default_factory=list)  # statuses to answer first, in order
    received: list[tuple[int, dict[str, Any] | str]] = field(default_factory=list)

    def verify(self, body: bytes) -> dict[str, Any]:
        form = parse_qs(body.decode())
        (token,) = form["logout_token"]
        keys = KeySet.import_key_set(requests.get(self.jwks_url, timeout=5).json())
        verified = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
        claims = verified.claims
        assert verified.header["typ"] == "logout+jwt"
        assert claims["iss"] == ISSUER
        assert claims["events"] == {backchannel.EVENT: {}}
        assert "nonce" not in claims
        assert claims["iat"] <= claims["exp"]
        return claims


@pytest.fixture
def receiver(jwks_url: str) -> Iterator[Receiver]:
    state = Receiver(jwks_url)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.answers:
                status: int = state.answers.pop(0)
                state.received.append((status, "answered as told"))
            else:
                try:
                    claims = state.verify(body)
                except Exception as error:  # the receiver refuses what does not verify
                    status, outcome = 400, repr(error)
                    state.received.append((status, outcome))
                else:
                    status = 200
                    state.received.append((status, claims))
            self.send_response(status)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/backchannel-logout"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def deliver(app: Flask) -> Callable[[], worker.Report]:
    """Run the outbox worker once, as `authserver outbox deliver --once` does."""
    return lambda: worker.deliver_due(worker.handlers_of(app))


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


def grant_in_session(
    http: FlaskClient, registered: RegisteredClient, person: User, session_id: Any
) -> dict:
    verifier, challenge = pkce_pair()
    code = issue_code(registered, person, challenge, scope="openid", session_id=session_id)
    response = redeem(http, registered, code, verifier)
    assert response.status_code == 200, response.json
    return response.json


def queued() -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.kind == backchannel.KIND)
    return list(db.session.scalars(stmt))


def test_logout_queues_a_token_the_worker_posts_and_the_client_verifies(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver, deliver: Callable
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)

    ended = http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})

    assert ended.status_code == 200
    assert receiver.received == []  # never inside the request that ended the session
    assert len(queued()) == 1
    assert deliver().delivered == 1
    ((status, claims),) = receiver.received
    assert status == 200, claims
    assert claims["aud"] == registered.client_id
    assert claims["sub"] == str(person.id)
    assert claims["sid"] == str(session_id)


def test_a_failed_delivery_is_retried_after_the_backoff(
    app: Flask,
    http: FlaskClient,
    person: User,
    receiver: Receiver,
    deliver: Callable,
    move_clock: Callable[..., None],
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    receiver.answers = [503]

    assert deliver().failed == 1
    assert deliver().handled == 0  # not due again before the backoff
    move_clock(seconds=31)
    assert deliver().delivered == 1
    assert [status for status, _ in receiver.received] == [503, 200]


@pytest.mark.parametrize("status", [400, 404])
def test_a_client_that_refuses_the_token_is_not_asked_again(
    app: Flask,
    http: FlaskClient,
    person: User,
    receiver: Receiver,
    deliver: Callable,
    move_clock: Callable[..., None],
    status: int,
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    receiver.answers = [status]

    assert deliver().failed == 1
    move_clock(hours=5)
    assert deliver().handled == 0
    (message,) = queued()
    assert message.next_attempt_at is None and message.delivered_at is None


def test_only_clients_with_a_grant_from_that_session_and_a_uri_are_told(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver
) -> None:
    told = register_client(backchannel_logout_uri=receiver.url)
    silent = register_client()  # registered no back-channel URI
    elsewhere = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, told, person, session_id)
    grant_in_session(http, silent, person, session_id)
    other_browser = app.test_client()
    grant_in_session(other_browser, elsewhere, person, sign_in(app, other_browser, person))

    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})

    assert [m.payload["client_id"] for m in queued()] == [told.client_id]


def test_disabling_a_person_tells_the_clients_of_every_session(
    app: Flask, person: User, receiver: Receiver, deliver: Callable
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    sessions = []
    for _ in range(2):
        browser = app.test_client()
        session_id = sign_in(app, browser, person)
        grant_in_session(browser, registered, person, session_id)
        sessions.append(str(session_id))

    accounts.disable(person)
    db.session.commit()

    assert deliver().delivered == 2
    assert sorted(claims["sid"] for _, claims in receiver.received) == sorted(sessions)


def test_nothing_is_queued_when_the_change_rolls_back(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    grant_in_session(http, registered, person, session_id)

    accounts.disable(person)
    db.session.rollback()

    assert queued() == []


def test_a_uri_that_is_neither_https_nor_loopback_is_never_posted_to(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver, deliver: Callable
) -> None:
    # A row written before the rule (or by hand): the worker checks again before sending.
    registered = register_client(backchannel_logout_uri="http://192.0.2.1/logout")
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})

    assert deliver().failed == 1
    (message,) = queued()
    assert message.next_attempt_at is None  # given up, not retried
    assert "https" in message.last_error


def test_a_client_that_dropped_its_uri_gets_nothing(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver, deliver: Callable
) -> None:
    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    registered.client.backchannel_logout_uri = None
    db.session.commit()

    assert deliver().failed == 1
    assert receiver.received == []


def test_discovery_advertises_back_channel_logout(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


def test_a_different_person_signing_in_in_that_browser_tells_the_clients(
    app: Flask, http: FlaskClient, person: User, receiver: Receiver, deliver: Callable
) -> None:
    from authserver.identity import sessions

    registered = register_client(backchannel_logout_uri=receiver.url)
    session_id = sign_in(app, http, person)
    grant_in_session(http, registered, person, session_id)
    settings = app.extensions["authserver.settings"]
    cookie = http.get_cookie(settings.session_cookie_name).value
    someone_else = make_user()
    db.session.commit()

    with app.test_request_context(headers={"Cookie": f"{settings.session_cookie_name}={cookie}"}):
        sessions.sign_in(someone_else, ["pwd"], settings)
        db.session.commit()

    assert deliver().delivered == 1
    ((_, claims),) = receiver.received
    assert claims["sid"] == str(session_id) and claims["sub"] == str(person.id)


def log_out_of_a_client_told_at(app: Flask, http: FlaskClient, person: User, uri: str) -> None:
    """Sign in to a client whose back-channel logout URI is `uri`, and log out."""
    registered = register_client(backchannel_logout_uri=uri)
    session_id = sign_in(app, http, person)
    tokens = grant_in_session(http, registered, person, session_id)
    http.get("/logout", query_string={"id_token_hint": tokens["id_token"]})


def test_a_client_that_trickles_its_answer_is_not_waited_for(
    app: Flask, http: FlaskClient, person: User, deliver: Callable
) -> None:
    """Only the status counts: a body sent a byte at a time must not hold the delivery."""
    trickler = TricklingServer(every=0.5, length=30)  # 15 s to read it all
    try:
        log_out_of_a_client_told_at(app, http, person, trickler.uri)
        started = time.monotonic()
        assert deliver().delivered == 1
        assert time.monotonic() - started < 10  # reading the whole body: 15 s
    finally:
        trickler.stop()


def test_a_client_that_trickles_its_headers_is_given_up_at_the_deadline(
    app: Flask, http: FlaskClient, person: User, deliver: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each header byte comes within the read timeout: only the deadline frees the outbox
    worker, which the mail waits on too. The delivery is retried later."""
    monkeypatch.setattr(backchannel, "DEADLINE", 1)
    trickler = TricklingServer(every=0.5, length=30, headers=True)  # 15 s of headers
    try:
        log_out_of_a_client_told_at(app, http, person, trickler.uri)
        started = time.monotonic()
        assert deliver().failed == 1
        assert time.monotonic() - started < 5
    finally:
        trickler.stop()
