"""The password sign-in page, driven as a browser would: form, CSRF token, cookie, redirects."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from authserver.extensions import db, limiter
from authserver.identity.passwords import hash_password
from authserver.identity.throttle import SALT, device_cookie_name
from authserver.models import AuditEvent, Session, User
from tests import concurrency
from tests.factories import make_user
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    return user


def submit(http: FlaskClient, email: str, password: str, pending: str | None = None):  # noqa: ANN201
    # The test's app context outlives requests, and Flask-WTF caches the CSRF token in g:
    # forget it, so that each browser gets a token of its own session.
    g.pop("csrf_token", None)
    page = http.get("/sign-in", query_string={"pending": pending} if pending else {})
    form = {"csrf_token": csrf_token_in(page.data), "email": email, "password": password}
    if pending:
        form["pending"] = pending
    return http.post("/sign-in", data=form)


def test_signing_in_resumes_the_authorization_and_the_code_redeems(
    app: Flask, http: FlaskClient, person: User
) -> None:
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    start = http.get("/authorize", query_string=authorize_params(client, challenge))
    pending = parse_qs(urlsplit(start.headers["Location"]).query)["pending"][0]

    page = http.get(start.headers["Location"])
    assert page.status_code == 200 and b'name="password"' in page.data
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"

    signed = submit(http, "ADA@example.com", PASSWORD, pending)
    assert signed.status_code == 303
    assert signed.headers["Location"].endswith(f"/authorize/resume/{pending}")
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    params = redirect_params(http.get(signed.headers["Location"]))
    assert redeem(http, client, params["code"], verifier).status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password!"), ("nobody@example.com", PASSWORD), ("", "")],
    ids=["wrong-password", "unknown-account", "empty"],
)
def test_a_failed_sign_in_says_the_same_thing_and_starts_nothing(
    http: FlaskClient, person: User, email: str, password: str
) -> None:
    response = submit(http, email, password)
    assert response.status_code == 401
    assert b"do not match an account" in response.data
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.event_type == "sign_in", AuditEvent.outcome == "failure"
        )
    )


def test_the_form_needs_its_csrf_token(http: FlaskClient, person: User) -> None:
    response = http.post("/sign-in", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_each_sign_in_gets_a_new_session_token(http: FlaskClient, person: User) -> None:
    first = submit(http, "ada@example.com", PASSWORD).headers["Set-Cookie"]
    second = submit(http, "ada@example.com", PASSWORD).headers["Set-Cookie"]
    assert first.split(";")[0] != second.split(";")[0]
    assert db.session.scalar(select(func.count()).select_from(Session)) == 1  # old one ended


def test_a_disabled_account_cannot_sign_in(http: FlaskClient, person: User) -> None:
    person.is_active = False
    db.session.commit()
    assert submit(http, "ada@example.com", PASSWORD).status_code == 401


@pytest.mark.parametrize("pending", ["nonsense", "7d0c5b8e-4a8e-4f59-9d3a-0c1f6b1a2e33"])
def test_an_unknown_pending_request_is_a_friendly_page(http: FlaskClient, pending: str) -> None:
    response = http.get("/sign-in", query_string={"pending": pending})
    assert response.status_code == 400 and b"expired" in response.data


def test_the_login_hint_fills_the_email_field_escaped(http: FlaskClient, app: Flask) -> None:
    response = http.get("/sign-in", query_string={"login_hint": '"><script>x</script>'})
    assert b"<script>x</script>" not in response.data
    assert b"&#34;&gt;&lt;script&gt;" in response.data


@pytest.fixture
def fresh_limits(app: Flask) -> Iterator[None]:
    limiter.reset()
    yield
    limiter.reset()


def test_repeated_failures_for_one_account_are_throttled(
    http: FlaskClient, person: User, fresh_limits: None
) -> None:
    for _ in range(5):
        assert submit(http, "ada@example.com", "wrong password!").status_code == 401
    limited = submit(http, "ada@example.com", PASSWORD)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert b"Too many attempts" in limited.data
    assert submit(http, "other@example.com", "wrong password!").status_code == 401


def test_failures_at_once_get_no_more_than_the_allowance(
    app: Flask, person: User, fresh_limits: None
) -> None:
    """Ten guesses sent together: five are checked, the rest refused. Each is counted
    before its password is verified, so none can slip in while the others are checked."""
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False  # ten browsers at once; the form is not the test
    form = {"email": "ada@example.com", "password": "wrong password!"}
    try:
        statuses = concurrency.at_once(
            [lambda: app.test_client().post("/sign-in", data=form).status_code] * 10
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert sorted(statuses) == [401] * 5 + [429] * 5


def test_successful_sign_ins_do_not_count(
    http: FlaskClient, person: User, fresh_limits: None
) -> None:
    for _ in range(7):
        assert submit(http, "ada@example.com", PASSWORD).status_code == 303


def test_repeated_failures_from_one_address_are_throttled(
    http: FlaskClient, person: User, fresh_limits: None
) -> None:
    for n in range(20):
        assert submit(http, f"guess{n}@example.com", "wrong password!").status_code == 401
    assert submit(http, "ada@example.com", PASSWORD).status_code == 429


def test_an_address_over_its_allowance_spends_nothing_of_the_accounts_it_tries(
    app: Flask, http: FlaskClient, person: User, fresh_limits: None
) -> None:
    for n in range(20):
        submit(http, f"guess{n}@example.com", "wrong password!")
    for _ in range(6):  # refused by the address's allowance, before the account's is spent
        assert submit(http, "ada@example.com", "wrong password!").status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert submit(elsewhere, "ada@example.com", PASSWORD).status_code == 303


# ---- device cookies: a stranger's guesses never lock the owner out (OWASP) ----------------


@pytest.fixture
def owners_browser(app: Flask, person: User, fresh_limits: None) -> FlaskClient:
    """Ada's own browser, which signed in before and so carries her device cookie."""
    browser = app.test_client()
    assert submit(browser, "ada@example.com", PASSWORD).status_code == 303
    return browser


@pytest.mark.parametrize(
    "guesses",
    [
        [("ada@example.com", "wrong password!")] * 25,  # her account's untrusted allowance
        [(f"guess{n}@example.com", "wrong password!") for n in range(25)],  # the address's
    ],
    ids=["one-account", "many-accounts-same-address"],
)
def test_a_strangers_failures_do_not_lock_out_a_browser_that_signed_in_before(
    app: Flask, owners_browser: FlaskClient, guesses: list[tuple[str, str]]
) -> None:
    stranger = app.test_client()  # the same address: tests all come from 127.0.0.1
    answers = [submit(stranger, email, password).status_code for email, password in guesses]
    assert answers[-1] == 429  # the stranger is throttled...

    assert submit(owners_browser, "ada@example.com", PASSWORD).status_code == 303  # ...not Ada


def test_untrusted_clients_share_the_lockout_of_the_account(
    app: Flask, owners_browser: FlaskClient
) -> None:
    stranger = app.test_client()
    for _ in range(5):
        assert submit(stranger, "ada@example.com", "wrong password!").status_code == 401
    new_browser = app.test_client()
    assert submit(new_browser, "ada@example.com", PASSWORD).status_code == 429


def test_a_trusted_browser_is_throttled_on_its_own_allowance(
    app: Flask, owners_browser: FlaskClient
) -> None:
    for _ in range(5):
        assert submit(owners_browser, "ada@example.com", "wrong password!").status_code == 401
    limited = submit(owners_browser, "ada@example.com", PASSWORD)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # Its failures were its own: other clients keep the account's allowance.
    assert submit(app.test_client(), "ada@example.com", PASSWORD).status_code == 303


def test_a_device_cookie_trusts_the_browser_only_for_the_person_it_names(
    app: Flask, owners_browser: FlaskClient
) -> None:
    make_user(email="bob@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    for _ in range(5):
        assert submit(owners_browser, "bob@example.com", "wrong password!").status_code == 401
    assert submit(app.test_client(), "bob@example.com", PASSWORD).status_code == 429
    assert submit(owners_browser, "ada@example.com", PASSWORD).status_code == 303


def test_a_changed_password_ends_the_trust_of_browsers_that_signed_in_before(
    app: Flask, owners_browser: FlaskClient, person: User
) -> None:
    """A browser that signed in with a stolen password must not keep an allowance of its
    own for guessing the new one: after the change it is one more untrusted client."""
    person.password_hash = hash_password("a new password, changed")
    db.session.commit()
    stranger = app.test_client()
    for _ in range(5):
        assert submit(stranger, "ada@example.com", "wrong password!").status_code == 401
    assert submit(owners_browser, "ada@example.com", "a new password, changed").status_code == 429


def test_a_browser_that_signs_in_under_the_new_password_is_trusted_again(
    app: Flask, owners_browser: FlaskClient, person: User
) -> None:
    person.password_hash = hash_password("a new password, changed")
    db.session.commit()
    assert submit(owners_browser, "ada@example.com", "a new password, changed").status_code == 303
    stranger = app.test_client()
    for _ in range(5):
        assert submit(stranger, "ada@example.com", "wrong password!").status_code == 401
    assert submit(owners_browser, "ada@example.com", "a new password, changed").status_code == 303


@pytest.mark.parametrize("forge", ["tampered", "other-key"])
def test_a_forged_device_cookie_is_not_trusted(
    app: Flask, owners_browser: FlaskClient, person: User, forge: str
) -> None:
    if forge == "tampered":
        cookie = owners_browser.get_cookie(device_cookie_name()).value
        value = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    else:  # her very cookie's entry, well formed and stamped, signed with another key
        cookie = owners_browser.get_cookie(device_cookie_name()).value
        devices = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).loads(cookie)
        value = URLSafeTimedSerializer("another key", salt=SALT).dumps(devices)
    attacker = app.test_client()
    attacker.set_cookie(device_cookie_name(), value)
    for _ in range(5):
        assert submit(attacker, "ada@example.com", "wrong password!").status_code == 401
    assert submit(attacker, "ada@example.com", PASSWORD).status_code == 429
    assert submit(owners_browser, "ada@example.com", PASSWORD).status_code == 303


def test_the_device_cookie_is_http_only_and_signed_in_browsers_only(
    app: Flask, http: FlaskClient, person: User, fresh_limits: None
) -> None:
    assert submit(http, "ada@example.com", "wrong password!").status_code == 401
    assert http.get_cookie(device_cookie_name()) is None
    signed = submit(http, "ada@example.com", PASSWORD)
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if "device" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
