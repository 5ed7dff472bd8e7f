"""Posting the hosted forms as a browser does: fetch the page for its CSRF token, then post."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.identity.passwords import hash_password
from authserver.models import User
from tests.factories import make_user
from tests.oauth_helpers import csrf_token_in

PASSWORD = "correct horse battery"


def submit(http: FlaskClient, form_path: str, data: dict[str, str], post_path: str | None = None,
           **kwargs: Any) -> TestResponse:  # fmt: skip
    page = http.get(form_path)
    assert page.status_code == 200, page.data[:500]
    return http.post(
        post_path or form_path, data={"csrf_token": csrf_token_in(page.data), **data}, **kwargs
    )


def make_local_person(email: str = "ada@example.com", **over: Any) -> User:
    user = make_user(email=email, display_name="Ada", password_hash=hash_password(PASSWORD), **over)
    db.session.commit()
    return user


def sign_in_with_password(http: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    return submit(http, "/sign-in", {"email": email, "password": password})


def spend_the_accounts_allowance(app: Flask, email: str) -> None:
    """A stranger's wrong passwords for `email`, until clients without its device cookie are
    refused (the account's allowance of 5)."""
    with app.app_context():  # a g of its own: Flask-WTF keeps the CSRF token there
        stranger = app.test_client()
        for _ in range(5):
            assert sign_in_with_password(stranger, email, "wrong guess!").status_code == 401
        assert sign_in_with_password(stranger, email).status_code == 429
