"""Sign-up (off by default, on, or for some domains) and email verification by link."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import OutboxMessage, User
from tests.factories import make_user
from tests.mail.helpers import PASSWORD, make_local_person, sign_in_with_password, submit
from tests.oauth_helpers import csrf_token_in, sign_in
from tests.smtp import Mailbox, link_in

GRACE = {"email": "grace@example.com", "name": "Grace Hopper", "password": PASSWORD}


@pytest.fixture
def signup_on(settings_with: Callable) -> None:
    settings_with(signup=True)


def test_sign_up_is_off_by_default(http: FlaskClient) -> None:
    assert http.get("/sign-up").status_code == 404
    assert b"/sign-up" not in http.get("/sign-in").data


def test_a_new_account_is_unverified_until_its_link_is_used(
    http: FlaskClient, signup_on: None, mailbox: Mailbox, deliver: Callable
) -> None:
    answer = submit(http, "/sign-up", GRACE)

    assert answer.status_code == 200 and b"Check your mail" in answer.data
    grace = User.find_by_email("grace@example.com")
    assert grace.display_name == "Grace Hopper" and grace.email_verified is False
    deliver()
    link = link_in(mailbox.only("grace@example.com"))
    assert http.get(link).status_code == 200  # the GET only shows the button
    db.session.expire_all()
    assert User.find_by_email("grace@example.com").email_verified is False

    confirmed = submit(http, link, {})

    assert confirmed.status_code == 200 and b"Email address confirmed" in confirmed.data
    db.session.expire_all()
    assert User.find_by_email("grace@example.com").email_verified is True
    assert sign_in_with_password(http, "grace@example.com").status_code == 303


def test_signing_up_with_a_taken_address_tells_its_owner_and_changes_nothing(
    app: Flask, http: FlaskClient, signup_on: None, mailbox: Mailbox, deliver: Callable
) -> None:
    owner = make_local_person("grace@example.com")
    before = owner.password_hash

    answer = submit(http, "/sign-up", {**GRACE, "password": "another password!"})

    assert answer.status_code == 200 and b"Check your mail" in answer.data
    db.session.expire_all()
    assert db.session.get(User, owner.id).password_hash == before
    deliver()
    assert "already has one" in mailbox.only("grace@example.com").get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("email", "status"), [("ada@corp.example", 200), ("ada@evil.example", 400)]
)
def test_sign_up_can_be_limited_to_domains(
    http: FlaskClient, settings_with: Callable, email: str, status: int
) -> None:
    settings_with(signup=True, signup_domains=("corp.example",))
    assert submit(http, "/sign-up", {**GRACE, "email": email}).status_code == status
    assert (User.find_by_email(email) is not None) == (status == 200)


@pytest.mark.parametrize(
    "change",
    [
        {"email": "not-an-address"},
        {"email": "x" * 10_000},
        {"name": ""},
        {"name": "Grace\u0007Hopper"},
        {"name": "G" * 10_000},
        {"password": "short"},
        {"password": "p" * 100_000},
    ],
)
def test_bad_input_gets_the_form_again_with_a_reason(
    http: FlaskClient, signup_on: None, change: dict
) -> None:
    response = submit(http, "/sign-up", {**GRACE, **change})
    assert response.status_code == 400 and b'class="error"' in response.data
    assert db.session.query(User).count() == 0


def test_the_form_needs_its_csrf_token(http: FlaskClient, signup_on: None) -> None:
    assert http.post("/sign-up", data=GRACE).status_code == 400
    assert db.session.query(User).count() == 0


def test_a_link_for_a_replaced_address_confirms_nothing(
    app: Flask, http: FlaskClient, signup_on: None, mailbox: Mailbox, deliver: Callable
) -> None:
    submit(http, "/sign-up", GRACE)
    deliver()
    link = link_in(mailbox.only("grace@example.com"))
    grace = User.find_by_email("grace@example.com")
    grace.email = "grace@other.example"
    db.session.commit()

    assert submit(http, link, {}).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, grace.id).email_verified is False


def test_the_account_page_sends_a_new_link_on_demand(
    app: Flask, http: FlaskClient, mailbox: Mailbox, deliver: Callable
) -> None:
    ada = make_local_person()
    sign_in(app, http, ada)
    page = http.get("/account")
    assert b"Send me a link" in page.data

    answer = http.post("/account/verify-email", data={"csrf_token": csrf_token_in(page.data)})

    assert answer.status_code == 200
    deliver()
    submit(http, link_in(mailbox.only("ada@example.com")), {})
    db.session.expire_all()
    assert db.session.get(User, ada.id).email_verified is True


def test_an_upstream_account_keeps_the_upstreams_verification(
    app: Flask, http: FlaskClient
) -> None:
    grace = make_user(email="grace@example.com", email_verified=True)
    db.session.commit()
    sign_in(app, http, grace, methods=("google",))
    page = http.get("/account")
    assert b"Send me a link" not in page.data and b"Change password" not in page.data
    assert http.post("/account/verify-email",
                     data={"csrf_token": csrf_token_in(page.data)}).status_code == 200  # fmt: skip
    assert db.session.query(OutboxMessage).count() == 0
