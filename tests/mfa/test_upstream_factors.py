"""An upstream sign-in counts as the upstream's own factors only when its ID token says so
(`amr`); otherwise a factor the person enrolled here is still asked for."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import Session
from tests.factories import make_user
from tests.fake_upstream import FakeProvider
from tests.mfa.helpers import add_totp, current_code, give_second_factor
from tests.pages import test_upstream_sign_in as upstream
from tests.pages.test_upstream_sign_in import come_back, go_to_google

# The fake Google and the app configured for it, as the upstream sign-in tests use them.
sso_app, app, http, fake_google, trickling_upstream = (
    upstream.sso_app,
    upstream.app,
    upstream.http,
    upstream.fake_google,
    upstream.trickling_upstream,
)


def grace_with_an_app() -> object:
    user = make_user(email="grace@example.com", email_verified=True)
    db.session.commit()
    return add_totp(user)


def test_google_without_amr_does_not_skip_the_factor_the_person_chose(
    app: Flask, http: FlaskClient
) -> None:
    app_totp = grace_with_an_app()
    back = come_back(http, go_to_google(http))
    assert back.status_code == 303 and back.headers["Location"].endswith("/second-step")
    assert db.session.scalar(select(Session)) is None

    done = give_second_factor(http, code=current_code(app_totp))
    assert done.status_code == 303
    assert db.session.scalar(select(Session)).auth_methods == ["google", "otp", "mfa"]


def test_google_saying_it_did_mfa_counts_and_is_repeated_in_amr(
    app: Flask, http: FlaskClient, fake_google: FakeProvider
) -> None:
    grace_with_an_app()
    fake_google.reset(amr=["pwd", "mfa", "not-a-method"])
    back = come_back(http, go_to_google(http))
    assert not back.headers["Location"].endswith("/second-step")
    assert db.session.scalar(select(Session)).auth_methods == ["google", "pwd", "mfa"]
