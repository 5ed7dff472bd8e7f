"""Every console form, fed every kind of bad value in every field it reads: a friendly page
or a redirect, never a 500."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import User
from tests.admin.conftest import OPERATOR_METHODS
from tests.oauth_helpers import csrf_token_in, register_client, sign_in

FIELDS = (
    "name", "redirect_uris", "post_logout_redirect_uris", "scope", "grant_type", "auth_method",
    "service", "client_id", "confirm", "role", "alg", "now", "kid", "email", "password",
    "platform_role", "email_verified", "first_party", "manifest", "prune", "jwks", "jwks_uri",
    "backchannel_logout_uri", "backchannel_logout_session_required", "dpop_bound_access_tokens",
    "require_pushed_authorization_requests",
)  # fmt: skip
BAD_VALUES = {
    "nul": "%00",
    "lone-surrogate": "%ED%A0%80",
    "not-utf8": "%FF%FE%FD",
    "huge": "x" * 20_000,  # every field: 520 kB in all, under the body limit
    "over-the-limit": "x" * 200_000,  # werkzeug refuses it (413) before any handler
    "arabic-digits": quote("٣٤"),
    "controls": "%07%1B%7F",
}


def admin_posts(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin") and "POST" in rule.methods
    )


@pytest.mark.parametrize("bad", BAD_VALUES, ids=list(BAD_VALUES))
def test_no_console_form_answers_bad_input_with_a_500(
    app: Flask, http: FlaskClient, root: User, person: User, bad: str
) -> None:
    registered = register_client()
    session_id = sign_in(app, app.test_client(), person)
    db.session.commit()
    values = {
        "user_id": str(person.id),
        "session_id": str(session_id),
        "client_id": registered.client_id,
    }
    sign_in(app, http, root, methods=OPERATOR_METHODS)
    for rule in admin_posts(app):
        path = re.sub(r"<(\w+)>", lambda match: values[match.group(1)], rule)
        token = csrf_token_in(http.get("/admin/keys").data)
        body = f"csrf_token={token}&" + "&".join(f"{field}={BAD_VALUES[bad]}" for field in FIELDS)
        response = http.post(
            path, data=body.encode(), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code < 500, (rule, response.status_code)
        assert response.status_code in (303, 200) or response.mimetype == "text/html", rule
        sign_in(app, http, root, methods=OPERATOR_METHODS)  # a rule may have ended the session
