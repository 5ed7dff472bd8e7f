"""Fixtures for the admin console: operators of each role, a person, a signed-in console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import PlatformRole, User
from tests.factories import make_user
from tests.mfa.helpers import add_totp
from tests.oauth_helpers import csrf_token_in, sign_in

# An operator's sign-in: a password and an authenticator app's code (RFC 8176).
OPERATOR_METHODS = ("pwd", "otp", "mfa")


def make_operator(role: str | None, *, with_factor: bool = True, **over: Any) -> User:
    """A person with a platform role and, unless told otherwise, an authenticator app set
    up before any sign-in the test makes (the console's rule 4)."""
    user = make_user(**over)
    if role is not None:
        db.session.add(PlatformRole(user_id=user.id, role=role))
        if with_factor:
            add_totp(user)
    db.session.commit()
    return user


@pytest.fixture
def root(app: Flask) -> User:
    return make_operator("root", email="root@example.com", display_name="Rory Root")


@pytest.fixture
def admin_operator(app: Flask) -> User:
    return make_operator("admin", email="admin@example.com", display_name="Ada Admin")


@pytest.fixture
def person(app: Flask) -> User:
    return make_operator(None, email="grace@example.com", display_name="Grace Hopper")


@pytest.fixture
def console(app: Flask, http: FlaskClient) -> Callable[[User], FlaskClient]:
    """console(user): the test client signed in as `user`, fresh, with a second factor."""

    def open_as(user: User) -> FlaskClient:
        sign_in(app, http, user, methods=OPERATOR_METHODS)
        return http

    return open_as


def post(
    http: FlaskClient, path: str, data: dict[str, Any] | None = None, *, page: str = "/admin/keys"
):
    """POST a console form as a browser would: with the CSRF token of a console page."""
    token = csrf_token_in(http.get(page).data)
    return http.post(path, data={"csrf_token": token, **(data or {})})
