"""A person with a password and (optionally) an authenticator app, and the pages' forms
submitted as a browser would: CSRF token from the page, cookies kept by the client."""

from __future__ import annotations

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.identity.passwords import hash_password
from authserver.mfa import totp
from authserver.models import TotpSecret, User
from tests.factories import make_user
from tests.oauth_helpers import csrf_token_in

PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.com"


def make_person(**over: object) -> User:
    user = make_user(email=EMAIL, password_hash=hash_password(PASSWORD), **over)
    db.session.commit()
    return user


def add_totp(user: User) -> pyotp.TOTP:
    """An authenticator app set up earlier (its enrolment has tests of its own)."""
    secret = pyotp.random_base32()
    sealed = totp.seal(secret)
    db.session.add(
        TotpSecret(
            user_id=user.id, secret_ciphertext=sealed, confirmed_at=utcnow(), last_used_step=0
        )
    )
    db.session.commit()
    return pyotp.TOTP(secret)


def current_code(app_totp: pyotp.TOTP) -> str:
    return app_totp.at(utcnow())


def sign_in_with_password(
    http: FlaskClient, pending: str | None = None, password: str = PASSWORD
) -> TestResponse:
    page = http.get("/sign-in", query_string={"pending": pending} if pending else {})
    form = {"csrf_token": csrf_token_in(page.data), "email": EMAIL, "password": password}
    if pending:
        form["pending"] = pending
    return http.post("/sign-in", data=form)


def give_second_factor(http: FlaskClient, **form: str) -> TestResponse:
    page = http.get("/sign-in/second-step")
    if page.status_code != 200:  # no half-finished sign-in: a valid CSRF token all the same
        page = http.get("/sign-in")
    return http.post("/sign-in/second-step", data={"csrf_token": csrf_token_in(page.data), **form})


def post_form(http: FlaskClient, page_path: str, action: str, **form: str) -> TestResponse:
    """Open a page for its CSRF token, then post one of its forms."""
    page = http.get(page_path)
    return http.post(action, data={"csrf_token": csrf_token_in(page.data), **form})


def set_cookies(response: TestResponse) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def sign_out_browser(http: FlaskClient) -> None:
    """The same browser without its sign-in session (a second client in one app context
    would share Flask-WTF's per-context CSRF token, so tests reuse the client)."""
    http.delete_cookie("authserver_session")
