"""Sign-in through an upstream OpenID provider, against a fake Google on a loopback port."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import delete, func, select

from authserver import create_app
from authserver.extensions import db
from authserver.identity import upstream
from authserver.identity.passwords import hash_password
from authserver.models import AuditEvent, OAuthAccount, Session, User
from tests.conftest import PostgresDatabases, make_settings
from tests.factories import make_user
from tests.fake_upstream import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.jwks_server import TricklingServer
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture(scope="module")
def fake_google() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def trickling_upstream() -> Iterator[TricklingServer]:
    """An upstream whose every answer, its discovery document first, comes a byte at a time."""
    server = TricklingServer(every=0.05, length=200)  # 10 s of it, if read to the end
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sso_app(
    backend: str,
    fake_google: FakeProvider,
    trickling_upstream: TricklingServer,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: PostgresDatabases | None,
) -> Iterator[Flask]:
    tmp: Path = tmp_path_factory.mktemp("sso")
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'sso.db'}"
    elif postgres_databases is None:
        pytest.skip("no PostgreSQL server")
    else:
        url = postgres_databases.create()
    settings = make_settings(
        tmp,
        url,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_issuer=fake_google.issuer,
        upstreams="dead,slow",
        upstream_dead_issuer="http://127.0.0.1:9",
        upstream_dead_client_id="x",
        upstream_dead_client_secret="y",
        upstream_slow_issuer=trickling_upstream.uri.removesuffix("/jwks.json"),
        upstream_slow_client_id="x",
        upstream_slow_client_secret="y",
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(sso_app: Flask, fake_google: FakeProvider) -> Iterator[Flask]:
    fake_google.reset()
    with sso_app.app_context():
        yield sso_app
        db.session.rollback()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(delete(table))


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def go_to_google(http: FlaskClient, pending: str | None = None) -> str:
    """Press 'Sign in with Google'; return where the browser is sent."""
    response = http.get("/sign-in/google", query_string={"pending": pending} if pending else {})
    assert response.status_code == 302, response.data[:300]
    return response.headers["Location"]


def come_back(http: FlaskClient, google_url: str):  # noqa: ANN201
    """The browser at Google: it redirects back to our callback, which we follow."""
    at_google = requests.get(google_url, allow_redirects=False, timeout=10)
    assert at_google.status_code == 302
    callback = urlsplit(at_google.headers["Location"])
    return http.get(f"{callback.path}?{callback.query}")


def test_sign_in_with_google_creates_the_person_and_finishes_the_authorization(
    app: Flask, http: FlaskClient, fake_google: FakeProvider
) -> None:
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    start = http.get("/authorize", query_string=authorize_params(client, challenge))
    sign_in_url = start.headers["Location"]
    page = http.get(sign_in_url)
    assert b"Sign in with Google" in page.data
    pending = parse_qs(urlsplit(sign_in_url).query)["pending"][0]

    google_url = go_to_google(http, pending)
    query = parse_qs(urlsplit(google_url).query)
    assert google_url.startswith(fake_google.issuer + "/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]

    back = come_back(http, google_url)
    assert back.status_code == 303 and back.headers["Location"].endswith(pending)
    params = redirect_params(http.get(back.headers["Location"]))
    tokens = redeem(http, client, params["code"], verifier).json
    claims = verify_as_resource_server(http, tokens["id_token"], client.client_id).claims

    person = db.session.scalar(select(User))
    assert claims["sub"] == str(person.id) and claims["amr"] == ["google"]
    assert (person.email, person.display_name, person.avatar_url) == (
        "grace@example.com",
        "Grace Hopper",
        "https://lh3.example.com/grace.png",
    )
    account = db.session.scalar(select(OAuthAccount))
    assert (account.provider, account.provider_subject) == ("google", "google-sub-1")


def test_a_request_the_page_sent_earlier_cannot_undo_the_redirect_to_google(
    http: FlaskClient,
) -> None:
    """Flask's session is a cookie: a response that sets it replaces it whole. The sign-in
    page's favicon and passkey options requests may finish after the click on "Sign in with
    Google"; had they rewritten the cookie they read (Flask-Login once marked it
    `_fresh`), the browser would return from Google without the state and be refused."""
    page = http.get("/sign-in")
    read_by_the_page = http.get_cookie("session").value
    google_url = go_to_google(http)
    after_the_click = http.get_cookie("session").value

    rewritten = []
    for method, path, headers in (
        ("GET", "/favicon.ico", {}),
        ("POST", "/sign-in/passkey/options", {"X-CSRFToken": csrf_token_in(page.data)}),
        ("GET", "/sign-in", {}),
        ("GET", "/brand.css", {}),
        ("GET", "/account", {}),
    ):
        http.set_cookie("session", read_by_the_page)
        response = http.open(path, method=method, headers=headers)
        if any(c.startswith("session=") for c in response.headers.getlist("Set-Cookie")):
            rewritten.append(path)
    assert rewritten == []

    http.set_cookie("session", after_the_click)
    assert come_back(http, google_url).status_code == 303


def test_a_later_sign_in_matches_on_provider_and_subject(
    http: FlaskClient, fake_google: FakeProvider
) -> None:
    assert come_back(http, go_to_google(http)).status_code == 303
    fake_google.reset(email="grace.hopper@example.com")
    assert come_back(http, go_to_google(http)).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(OAuthAccount)).email == "grace.hopper@example.com"


def test_a_verified_email_links_to_the_existing_account(
    app: Flask, http: FlaskClient, fake_google: FakeProvider
) -> None:
    existing = make_user(
        email="grace@example.com",
        email_verified=True,
        password_hash=hash_password("a long password"),
    )
    db.session.commit()
    assert come_back(http, go_to_google(http)).status_code == 303
    account = db.session.scalar(select(OAuthAccount))
    assert account.user_id == existing.id
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_an_account_that_never_proved_its_address_is_not_linked_but_released(
    app: Flask, http: FlaskClient, fake_google: FakeProvider
) -> None:
    """A pre-account hijack: someone registered the real owner's address with a password of
    their own and never confirmed it. The owner's Google sign-in must not land in that
    account, and the squatter's password must stop working."""
    squatter = make_user(
        email="grace@example.com",
        email_verified=False,
        password_hash=hash_password("the squatter's password"),
    )
    db.session.commit()
    squatter_id = squatter.id

    assert come_back(http, go_to_google(http)).status_code == 303

    account = db.session.scalar(select(OAuthAccount))
    owner = db.session.get(User, account.user_id)
    assert owner.id != squatter_id and owner.email == "grace@example.com"
    assert owner.email_verified and owner.password_hash is None
    released = db.session.get(User, squatter_id)
    assert not released.is_active and released.email.endswith("@released.invalid")
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.event_type == "user.address_released")
    )
    assert event.target_id == str(squatter_id)
    page = http.get("/sign-in")
    refused = http.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token_in(page.data),
            "email": "grace@example.com",
            "password": "the squatter's password",
        },
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("setup", "reason", "words"),
    [
        (lambda g: g.reset(email_verified=False), "email_unverified", b"not verified"),
        (lambda g: setattr(g, "cancel", True), "cancelled", b"cancelled"),
        (lambda g: setattr(g, "tamper", "bad_signature"), "bad_id_token", b"could not be"),
        (lambda g: setattr(g, "tamper", "wrong_nonce"), "bad_id_token", b"could not be"),
        (lambda g: setattr(g, "tamper", "wrong_audience"), "bad_id_token", b"could not be"),
        (lambda g: setattr(g, "tamper", "expired"), "bad_id_token", b"could not be"),
        (lambda g: setattr(g, "tamper", "wrong_issuer"), "bad_id_token", b"could not be"),
    ],
    ids=[
        "unverified-email",
        "cancelled",
        "bad-signature",
        "wrong-nonce",
        "wrong-audience",
        "expired",
        "wrong-issuer",
    ],
)
def test_an_upstream_failure_is_a_friendly_page_with_a_retry_and_an_audit_event(
    http: FlaskClient,
    fake_google: FakeProvider,
    setup,
    reason: str,
    words: bytes,  # noqa: ANN001
) -> None:
    setup(fake_google)
    response = come_back(http, go_to_google(http))
    assert response.status_code == 400
    assert words in response.data and b"Try again" in response.data
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "sign_in"))
    assert event.outcome == "failure" and event.details["reason"] == reason


def test_a_hosted_domain_outside_the_allowed_ones_is_refused(
    app: Flask, http: FlaskClient, fake_google: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstreams = dict(app.extensions["authserver.upstreams"])
    upstreams["google"] = dataclasses.replace(upstreams["google"], hosted_domains=("corp.com",))
    monkeypatch.setitem(app.extensions, "authserver.upstreams", upstreams)
    fake_google.reset(hd="example.com")
    google_url = go_to_google(http)
    assert parse_qs(urlsplit(google_url).query)["hd"] == ["corp.com"]
    response = come_back(http, google_url)
    assert response.status_code == 400 and b"does not accept accounts" in response.data
    fake_google.reset(hd="corp.com")
    assert come_back(http, go_to_google(http)).status_code == 303


def test_a_tampered_or_replayed_callback_is_refused(http: FlaskClient) -> None:
    at_google = requests.get(go_to_google(http), allow_redirects=False, timeout=10)
    callback = urlsplit(at_google.headers["Location"])
    forged = callback.query.replace("state=", "state=x")
    assert http.get(f"{callback.path}?{forged}").status_code == 400

    at_google = requests.get(go_to_google(http), allow_redirects=False, timeout=10)
    callback = urlsplit(at_google.headers["Location"])
    assert http.get(f"{callback.path}?{callback.query}").status_code == 303
    replay = http.get(f"{callback.path}?{callback.query}")
    assert replay.status_code == 400 and b"expired or was already used" in replay.data


def test_an_unreachable_provider_is_a_friendly_page(http: FlaskClient) -> None:
    response = http.get("/sign-in/dead")
    assert response.status_code == 502 and b"cannot be reached" in response.data


def test_a_provider_that_trickles_its_discovery_document_is_given_up_at_the_deadline(
    http: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each byte comes well within the read timeout: only the deadline for the whole answer
    frees the worker."""
    monkeypatch.setattr(upstream, "UPSTREAM_DEADLINE", 1)
    started = time.monotonic()
    response = http.get("/sign-in/slow")
    assert response.status_code == 502 and b"cannot be reached" in response.data
    assert time.monotonic() - started < upstream.UPSTREAM_TIMEOUT


@pytest.mark.parametrize("tamper", ["trickled_token", "huge_token", "garbled_token"])
def test_a_token_answer_too_slow_too_large_or_garbled_is_a_friendly_page(
    http: FlaskClient, fake_google: FakeProvider, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    monkeypatch.setattr(upstream, "UPSTREAM_DEADLINE", 1)
    google_url = go_to_google(http)
    fake_google.tamper = tamper
    started = time.monotonic()
    response = come_back(http, google_url)
    assert response.status_code == 502 and b"cannot be reached" in response.data
    assert time.monotonic() - started < upstream.UPSTREAM_TIMEOUT
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "sign_in"))
    assert event.outcome == "failure" and event.details["reason"] == "provider_unreachable"
    fake_google.tamper = None
    assert come_back(http, go_to_google(http)).status_code == 303  # the next one works


@pytest.fixture
def discovery_unread(app: Flask) -> Iterator[None]:
    """The module's app forgets Google's discovery document and keys before and after the
    test (it would else carry one test's retry time or keys into the next)."""
    metadata = app.extensions["authserver.oauth_clients"].create_client("google").server_metadata

    def forget() -> None:
        metadata.pop("_loaded_at", None)
        metadata.pop("jwks", None)

    forget()
    yield
    forget()


@pytest.mark.usefixtures("discovery_unread")
def test_the_discovery_document_is_read_again_once_it_is_old(
    http: FlaskClient, fake_google: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider that moves its token endpoint reaches every worker without a restart."""
    assert come_back(http, go_to_google(http)).status_code == 303  # the document is kept
    fake_google.token_path, fake_google.retired_token_path = "/v2/token", "/token"
    monkeypatch.setattr(upstream, "DISCOVERY_TTL", 0)
    assert come_back(http, go_to_google(http)).status_code == 303


@pytest.mark.usefixtures("discovery_unread")
def test_the_keys_are_read_again_with_the_discovery_document(
    http: FlaskClient, fake_google: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new key under the old kid is not an unknown kid, which alone makes Authlib fetch
    the keys again: without the new read, sign-ins would fail until a restart."""
    assert come_back(http, go_to_google(http)).status_code == 303  # the keys are kept
    first_key = fake_google.key
    fake_google.key = fake_google.other_key  # the same kid, "fake-1"
    try:
        monkeypatch.setattr(upstream, "DISCOVERY_TTL", 0)
        assert come_back(http, go_to_google(http)).status_code == 303
    finally:
        fake_google.key = first_key


@pytest.mark.usefixtures("discovery_unread")
@pytest.mark.parametrize("failure", ["failing", "another-issuer"])
def test_a_discovery_document_that_cannot_be_read_again_leaves_the_one_we_have(
    http: FlaskClient, fake_google: FakeProvider, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    assert come_back(http, go_to_google(http)).status_code == 303
    if failure == "failing":
        fake_google.discovery_status = 500
    else:
        fake_google.discovery_issuer = "https://impostor.example"
    monkeypatch.setattr(upstream, "DISCOVERY_TTL", 0)
    fetches = fake_google.discovery_fetches
    assert come_back(http, go_to_google(http)).status_code == 303
    assert come_back(http, go_to_google(http)).status_code == 303
    assert fake_google.discovery_fetches == fetches + 1  # then not again for DISCOVERY_RETRY


def test_an_unknown_provider_is_404(http: FlaskClient) -> None:
    assert http.get("/sign-in/nope").status_code == 404
    assert http.get("/sign-in/nope/callback?code=x&state=y").status_code == 404


@pytest.mark.parametrize(
    ("return_to", "lands_on"), [("account", "/account"), ("https://evil.example/", "/signed-in")]
)
def test_an_upstream_sign_in_returns_to_the_account_page_but_nowhere_else(
    http: FlaskClient, return_to: str, lands_on: str
) -> None:
    page = http.get("/sign-in", query_string={"return_to": return_to})
    if return_to == "account":
        assert b"return_to=account" in page.data  # the Google button carries it
    response = http.get("/sign-in/google", query_string={"return_to": return_to})
    back = come_back(http, response.headers["Location"])
    assert back.status_code == 303 and back.headers["Location"] == lands_on


def sign_in_through_google(http: FlaskClient, client, **asks: str):  # noqa: ANN001, ANN201
    """Start an authorization, press the Google button; the Google URL and the answer."""
    verifier, challenge = pkce_pair()
    start = http.get("/authorize", query_string=authorize_params(client, challenge, **asks))
    pending = parse_qs(urlsplit(start.headers["Location"]).query)["pending"][0]
    google_url = go_to_google(http, pending)
    return google_url, come_back(http, google_url), verifier


def id_token_after(http: FlaskClient, client, back, verifier: str) -> dict:  # noqa: ANN001
    params = redirect_params(http.get(back.headers["Location"]))
    tokens = redeem(http, client, params["code"], verifier).json
    return verify_as_resource_server(http, tokens["id_token"], client.client_id).claims


@pytest.mark.parametrize(
    ("asks", "passed_on"),
    [
        ({}, {}),
        ({"prompt": "login"}, {"prompt": ["login"]}),
        ({"max_age": "0"}, {"max_age": ["0"]}),
        ({"max_age": "600", "prompt": "login"}, {"max_age": ["600"], "prompt": ["login"]}),
    ],
    ids=["nothing", "prompt-login", "max-age-0", "both"],
)
def test_a_reauthentication_the_app_asks_for_is_asked_of_the_upstream(
    http: FlaskClient, fake_google: FakeProvider, asks: dict, passed_on: dict
) -> None:
    client = register_client(is_first_party=True)
    fake_google.authenticated_at = int(time.time()) - 3600  # signed in at Google an hour ago
    started = int(time.time())
    google_url, back, verifier = sign_in_through_google(http, client, **asks)
    query = parse_qs(urlsplit(google_url).query)
    assert {name: query[name] for name in ("prompt", "max_age") if name in query} == passed_on
    claims = id_token_after(http, client, back, verifier)
    assert claims["auth_time"] == fake_google.authenticated_at  # Google's, not the callback's
    if asks:
        assert claims["auth_time"] >= started  # signed in again during this flow


@pytest.mark.parametrize(
    ("asks", "tamper"),
    [
        ({"prompt": "login"}, "ignores_reauthentication"),
        ({"max_age": "60"}, "ignores_reauthentication"),
        ({"max_age": "60"}, "no_auth_time"),
        ({}, "future_auth_time"),
    ],
    ids=["prompt-login-ignored", "max-age-ignored", "max-age-without-auth-time", "future"],
)
def test_an_upstream_that_did_not_reauthenticate_is_refused_with_a_page(
    http: FlaskClient, fake_google: FakeProvider, asks: dict, tamper: str
) -> None:
    client = register_client(is_first_party=True)
    fake_google.authenticated_at = int(time.time()) - 3600
    fake_google.tamper = tamper
    _, back, _ = sign_in_through_google(http, client, **asks)
    assert back.status_code == 400 and b"Try again" in back.data
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_prompt_login_without_an_upstream_auth_time_counts_from_the_callback(
    http: FlaskClient, fake_google: FakeProvider
) -> None:
    client = register_client(is_first_party=True)
    fake_google.tamper = "no_auth_time"
    started = int(time.time())
    _, back, verifier = sign_in_through_google(http, client, prompt="login")
    assert back.status_code == 303
    assert id_token_after(http, client, back, verifier)["auth_time"] >= started
