"""Second-factor rows under concurrency (PostgreSQL row locks): parallel requests of one
person never meet a unique violation."""

from __future__ import annotations

import pytest
from flask import Flask, g

from authserver.extensions import db
from authserver.models import TotpSecret
from tests.concurrency import at_once
from tests.mfa.helpers import make_person
from tests.oauth_helpers import csrf_token_in, sign_in


def test_setting_up_an_app_in_several_tabs_at_once_never_fails(app: Flask, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer; the row lock is PostgreSQL's")
    person = make_person()
    for _ in range(3):
        g.pop("csrf_token", None)  # the app context outlives a request in tests
        browser = app.test_client()
        sign_in(app, browser, person)
        token = csrf_token_in(browser.get("/account/security").data)

        def start(browser=browser, token=token) -> int:  # noqa: ANN001
            return browser.post("/account/security/totp", data={"csrf_token": token}).status_code

        answers = at_once([start] * 4)
        assert answers == [200] * 4
    db.session.expire_all()
    assert db.session.query(TotpSecret).filter_by(user_id=person.id).count() == 1
