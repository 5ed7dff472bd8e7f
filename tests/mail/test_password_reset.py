"""Password reset: the answer never tells whether an account exists; the mailed link sets a
new password once, and ends every session and grant of the person."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.identity.passwords import verify_password
from authserver.identity.throttle import device_cookie_name
from authserver.models import AuditEvent, GrantFamily, OutboxMessage, Session, User
from tests.factories import make_family, make_user
from tests.mail.helpers import (
    make_local_person,
    sign_in_with_password,
    spend_the_accounts_allowance,
    submit,
)
from tests.mfa.helpers import add_totp
from tests.oauth_helpers import register_client, sign_in
from tests.smtp import Mailbox, link_in

NEW_PASSWORD = "a brand new passphrase"


def ask_reset(http: FlaskClient, email: str):  # noqa: ANN201
    return submit(http, "/forgot-password", {"email": email})


def reset_link(http: FlaskClient, mailbox: Mailbox, deliver: Callable) -> str:
    """Ada asks for a reset, and opens the mail."""
    ask_reset(http, "ada@example.com")
    deliver()
    return link_in(mailbox.only("ada@example.com"))


@pytest.fixture
def ada(app: Flask) -> User:
    return make_local_person()


def test_the_answer_is_the_same_with_or_without_an_account(
    http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    known = ask_reset(http, "ada@example.com")
    unknown = ask_reset(http, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert known.data.replace(b"ada@", b"X@") == unknown.data.replace(b"nobody@", b"X@")
    deliver()
    assert len(mailbox.to("ada@example.com")) == 1 and mailbox.to("nobody@example.com") == []


def test_the_link_sets_the_password_and_ends_every_session_and_grant(
    app: Flask, http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    sign_in(app, app.test_client(), ada)
    family = make_family(register_client().client, ada, scope="openid offline_access")
    db.session.commit()
    link = reset_link(http, mailbox, deliver)

    done = submit(http, link, {"password": NEW_PASSWORD})

    assert done.status_code == 200 and b"Password changed" in done.data
    db.session.expire_all()
    assert verify_password(db.session.get(User, ada.id).password_hash, NEW_PASSWORD)
    assert Session.all_of(ada.id) == []
    revoked = db.session.get(GrantFamily, family.id)
    assert revoked.revoked_at is not None and revoked.revoked_reason == "password_reset"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "password.reset"))
    assert event.details["reason"] == "password_reset" and event.details["grants"] == 1
    deliver()
    assert "was reset" in mailbox.to("ada@example.com")[-1].get_body(("plain",)).get_content()
    assert sign_in_with_password(http, "ada@example.com", NEW_PASSWORD).status_code == 303


def test_the_browser_that_reset_the_password_keeps_its_own_allowance(
    app: Flask, http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    """Whoever stole the old password cannot lock Ada out after the reset by guessing."""
    link = reset_link(http, mailbox, deliver)
    assert submit(http, link, {"password": NEW_PASSWORD}).status_code == 200
    spend_the_accounts_allowance(app, "ada@example.com")
    assert sign_in_with_password(http, "ada@example.com", NEW_PASSWORD).status_code == 303


def test_a_reset_does_not_trust_the_browser_of_a_person_with_a_second_factor(
    http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    """The mailbox proves the address, not the second factor: a device cookie would give
    whoever reads the mail an allowance of their own for guessing it."""
    add_totp(ada)
    link = reset_link(http, mailbox, deliver)
    assert submit(http, link, {"password": NEW_PASSWORD}).status_code == 200
    assert http.get_cookie(device_cookie_name()) is None


def test_the_link_works_once(
    http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    link = reset_link(http, mailbox, deliver)
    submit(http, link, {"password": NEW_PASSWORD})

    again = http.get(link)

    assert again.status_code == 400 and b"This link cannot be used" in again.data
    assert b"/forgot-password" in again.data


def test_an_expired_link_is_a_friendly_page(
    http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable, move_clock: Callable
) -> None:
    link = reset_link(http, mailbox, deliver)
    move_clock(seconds=3601)
    assert http.get(link).status_code == 400


@pytest.mark.parametrize("token", ["unknown", "x" * 5000, "%C3%A9t%C3%A9"])
def test_an_unknown_link_is_a_friendly_page(http: FlaskClient, token: str) -> None:
    response = http.get(f"/reset-password/{token}")
    assert response.status_code == 400 and b"Ask for a new link" in response.data


def test_a_short_new_password_keeps_the_link_usable(
    http: FlaskClient, ada: User, mailbox: Mailbox, deliver: Callable
) -> None:
    link = reset_link(http, mailbox, deliver)

    refused = submit(http, link, {"password": "short"})

    assert refused.status_code == 400 and b"10 to 1024 characters" in refused.data
    assert submit(http, link, {"password": NEW_PASSWORD}).status_code == 200


def test_an_account_without_a_password_gets_no_reset_mail(
    app: Flask, http: FlaskClient, deliver: Callable, mailbox: Mailbox
) -> None:
    make_user(email="grace@example.com", email_verified=True)
    db.session.commit()
    assert ask_reset(http, "grace@example.com").status_code == 200
    deliver()
    assert mailbox.to("grace@example.com") == []


def test_a_stranger_cannot_mail_bomb_an_address(
    http: FlaskClient, ada: User, deliver: Callable, mailbox: Mailbox
) -> None:
    for n in range(8):  # from several IPs, so the per-IP limit is not what stops it
        address = {"REMOTE_ADDR": f"192.0.2.{n}"}
        answer = submit(http, "/forgot-password", {"email": "ada@example.com"},
                        environ_base=address)  # fmt: skip
        assert answer.status_code == 200  # the same page, over the limit too
    deliver()
    assert len(mailbox.to("ada@example.com")) == 5


def test_a_stranger_cannot_spend_the_owners_own_allowance(
    http: FlaskClient, ada: User, deliver: Callable, mailbox: Mailbox
) -> None:
    """Security review: five strangers' requests an hour must not keep the owner from ever
    getting a reset link. A browser that signed in as the owner before has its own."""
    for n in range(6):
        submit(http, "/forgot-password", {"email": "ada@example.com"},
               environ_base={"REMOTE_ADDR": f"192.0.2.{n}"})  # fmt: skip
    deliver()
    assert len(mailbox.to("ada@example.com")) == 5  # the strangers' allowance is spent
    assert sign_in_with_password(http, "ada@example.com").status_code == 303
    http.delete_cookie("authserver_session")  # signed out; the device cookie stays
    assert ask_reset(http, "ada@example.com").status_code == 200
    deliver()
    assert len(mailbox.to("ada@example.com")) == 6  # the owner's browser was still mailed


def test_one_address_is_limited_in_how_often_it_asks(app: Flask, http: FlaskClient) -> None:
    statuses = [ask_reset(http, f"p{n}@example.com").status_code for n in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429


@pytest.mark.parametrize(
    "email",
    ["not an address", "a" * 5000 + "@example.com", "ada\u2028@example.com", ""],
)
def test_a_malformed_address_is_a_friendly_page(http: FlaskClient, email: str) -> None:
    response = ask_reset(http, email)
    assert response.status_code == 400 and b"Enter an email address" in response.data


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"email=ada%00%40example.com", 400),  # NUL: refused before the view
        (b"email=%ED%A0%80%40example.com", 200),  # a lone surrogate stays %-escaped ASCII
        (b"email=%C3%A9%40example.com", 400),  # not ASCII
        (b"email=" + b"%FF" * 3000, 400),
    ],
)
def test_odd_bytes_get_a_page_never_a_500(http: FlaskClient, body: bytes, status: int) -> None:
    page = http.get("/forgot-password")
    token = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0]
    response = http.post("/forgot-password", data=body + b"&csrf_token=" + token,
                         content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == status and response.mimetype == "text/html"


def test_the_form_needs_its_csrf_token(http: FlaskClient, ada: User) -> None:
    response = http.post("/forgot-password", data={"email": "ada@example.com"})
    assert response.status_code == 400
    assert db.session.query(OutboxMessage).count() == 0


def test_the_sign_in_page_links_to_the_reset(http: FlaskClient) -> None:
    assert b'href="/forgot-password"' in http.get("/sign-in").data


def test_production_without_smtp_offers_no_reset(
    http: FlaskClient, settings_with: Callable
) -> None:
    settings_with(env="production", smtp=None)
    assert b"/forgot-password" not in http.get("/sign-in").data
    assert http.get("/forgot-password").status_code == 404


@pytest.mark.parametrize("email", ["ada@example.com", "nobody@example.com"])
def test_the_answer_takes_the_same_floor_with_or_without_an_account(
    http: FlaskClient, ada: User, email: str
) -> None:
    """Security review: the known address did more work and answered measurably later. Both
    answers are held to one floor, above the work of either."""
    from time import monotonic

    from authserver.identity.timing import RESET_FLOOR_SECONDS
    from tests.oauth_helpers import csrf_token_in

    token = csrf_token_in(http.get("/forgot-password").data)
    started = monotonic()
    answer = http.post("/forgot-password", data={"csrf_token": token, "email": email})
    assert answer.status_code == 200
    assert monotonic() - started >= RESET_FLOOR_SECONDS


def test_mail_carries_the_brand(
    http: FlaskClient,
    ada: User,
    mailbox: Mailbox,
    deliver: Callable,
    settings_with: Callable[..., None],
) -> None:
    from authserver.pages.brand import Brand

    settings_with(
        brand=Brand(name="Acme ID", accent="#6b21a8", support_uri="https://help.acme.example/")
    )
    ask_reset(http, "ada@example.com")
    deliver()
    message = mailbox.only("ada@example.com")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Acme ID · ") and "Help: https://help.acme.example/" in text
    assert "background: #6b21a8" in html and 'href="https://help.acme.example/"' in html
