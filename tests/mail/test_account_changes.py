"""Change password (needs the current one) and change email (verified before it takes
effect; the old address is told), from the account page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.identity.passwords import verify_password
from authserver.models import OutboxMessage, Session, User
from tests.factories import make_user
from tests.mail.helpers import (
    PASSWORD,
    make_local_person,
    sign_in_with_password,
    spend_the_accounts_allowance,
    submit,
)
from tests.oauth_helpers import sign_in
from tests.smtp import Mailbox, link_in

NEW = "a brand new passphrase"


@pytest.fixture
def ada(app: Flask) -> User:
    return make_local_person()


@pytest.fixture
def signed_in(app: Flask, http: FlaskClient, ada: User) -> str:
    return sign_in(app, http, ada)


def test_changing_the_password_needs_the_current_one(
    http: FlaskClient, ada: User, signed_in: str
) -> None:
    refused = submit(
        http, "/account/password", {"current_password": "wrong guess!", "new_password": NEW}
    )
    assert refused.status_code == 400 and b"not right" in refused.data
    db.session.expire_all()
    assert verify_password(db.session.get(User, ada.id).password_hash, PASSWORD)


def test_a_changed_password_ends_the_other_sessions_and_tells_the_person(
    app: Flask, http: FlaskClient, ada: User, signed_in: str, mailbox: Mailbox, deliver: Callable
) -> None:
    other = sign_in(app, app.test_client(), ada)

    done = submit(http, "/account/password", {"current_password": PASSWORD, "new_password": NEW})

    assert done.status_code == 200
    db.session.expire_all()
    assert verify_password(db.session.get(User, ada.id).password_hash, NEW)
    assert {s.id for s in Session.all_of(ada.id)} == {signed_in} and other != signed_in
    deliver()
    assert "was changed" in mailbox.only("ada@example.com")["Subject"]


def test_the_browser_that_changed_the_password_keeps_its_own_allowance(
    app: Flask, http: FlaskClient, ada: User, signed_in: str
) -> None:
    """The change ends the trust of every device cookie but this browser's, so a stranger
    who spends the account's allowance does not lock Ada out of her own browser."""
    done = submit(http, "/account/password", {"current_password": PASSWORD, "new_password": NEW})
    assert done.status_code == 200
    spend_the_accounts_allowance(app, "ada@example.com")
    assert sign_in_with_password(http, "ada@example.com", NEW).status_code == 303


def test_credential_changes_are_limited_per_person_with_retry_after(
    app: Flask, http: FlaskClient, ada: User, signed_in: str
) -> None:
    """Each try counts against the person's own allowance (credentials.PERSON_LIMIT): the
    eleventh in an hour is refused, even with the right password, and says when to retry;
    someone else, from the same address, still has theirs."""
    guess = {"current_password": "wrong guess!", "new_password": NEW}
    for _ in range(10):
        assert submit(http, "/account/password", guess).status_code == 400
    right = {"current_password": PASSWORD, "new_password": NEW}
    refused = submit(http, "/account/password", right)
    assert refused.status_code == 429 and b"Too many attempts" in refused.data
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert (
        submit(
            http, "/account/email", {"email": "new@example.com", "password": PASSWORD}
        ).status_code
        == 429
    )
    db.session.expire_all()
    assert verify_password(db.session.get(User, ada.id).password_hash, PASSWORD)

    with app.app_context():  # another browser: its own CSRF token, which Flask-WTF keeps in g
        grace = app.test_client()
        sign_in(app, grace, make_local_person("grace@example.com"))
        assert submit(grace, "/account/password", right).status_code == 200


def test_a_new_password_must_meet_the_policy(http: FlaskClient, signed_in: str) -> None:
    response = submit(
        http, "/account/password", {"current_password": PASSWORD, "new_password": "short"}
    )
    assert response.status_code == 400 and b"10 to 1024 characters" in response.data


def test_an_email_change_takes_effect_only_through_the_new_address(
    http: FlaskClient, ada: User, signed_in: str, mailbox: Mailbox, deliver: Callable
) -> None:
    asked = submit(http, "/account/email", {"email": "ada@new.example", "password": PASSWORD})

    assert asked.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, ada.id).email == "ada@example.com"
    deliver()
    link = link_in(mailbox.only("ada@new.example"))
    assert mailbox.to("ada@example.com") == []

    done = submit(http, link, {})

    assert done.status_code == 200 and b"Email address changed" in done.data
    db.session.expire_all()
    changed = db.session.get(User, ada.id)
    assert changed.email == "ada@new.example" and changed.email_verified is True
    deliver()
    told = mailbox.only("ada@example.com")
    assert "ada@new.example" in told.get_body(("plain",)).get_content()


def test_an_email_change_needs_the_password(http: FlaskClient, signed_in: str) -> None:
    response = submit(http, "/account/email", {"email": "ada@new.example", "password": "nope"})
    assert response.status_code == 400
    assert db.session.query(OutboxMessage).count() == 0


def test_a_taken_address_gets_the_same_answer_and_no_mail(
    http: FlaskClient, signed_in: str, deliver: Callable, mailbox: Mailbox
) -> None:
    make_user(email="taken@example.com")
    db.session.commit()
    answer = submit(http, "/account/email", {"email": "taken@example.com", "password": PASSWORD})
    assert answer.status_code == 200 and b"Check your mail" in answer.data
    deliver()
    assert mailbox.messages == []


def test_an_address_taken_before_the_link_is_used_is_a_clear_page(
    http: FlaskClient, ada: User, signed_in: str, mailbox: Mailbox, deliver: Callable
) -> None:
    submit(http, "/account/email", {"email": "ada@new.example", "password": PASSWORD})
    deliver()
    link = link_in(mailbox.only("ada@new.example"))
    make_user(email="ada@new.example")
    db.session.commit()

    response = submit(http, link, {})

    assert response.status_code == 409 and b"That address is taken" in response.data
    db.session.expire_all()
    assert db.session.get(User, ada.id).email == "ada@example.com"


@pytest.mark.parametrize("path", ["/account/password", "/account/email"])
def test_the_forms_need_a_signed_in_person(http: FlaskClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/account/password", "/account/email"])
def test_an_upstream_account_changes_these_at_its_provider(
    app: Flask, http: FlaskClient, path: str
) -> None:
    grace = make_user(email="grace@example.com", email_verified=True)
    db.session.commit()
    sign_in(app, http, grace, methods=("google",))
    assert http.get(path).status_code == 403
