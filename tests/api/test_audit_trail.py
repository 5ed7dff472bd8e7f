"""The audit trail of a whole flow: each step leaves its event (sign-in with its method,
consent, token family revocations with their reason, sign-out), and no row holds a
password, code, token, client secret or session cookie."""

from __future__ import annotations

import dataclasses
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.identity.passwords import hash_password
from authserver.models import AuditEvent
from tests.api.test_authorize import consent_action
from tests.factories import make_user
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    refresh,
    register_client,
)

PASSWORD = "correct horse battery staple"


def events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.occurred_at)))


def test_a_whole_flow_is_audited_without_secrets(app: Flask, http: FlaskClient) -> None:
    make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    client = register_client(name="Acme Reports")
    verifier, challenge = pkce_pair()

    start = http.get("/authorize", query_string=authorize_params(client, challenge))
    page = http.get(start.headers["Location"])
    pending = start.headers["Location"].split("pending=")[1]
    http.post("/sign-in", data={"csrf_token": csrf_token_in(page.data), "email": "ada@example.com",
                                "password": "wrong password!", "pending": pending})  # fmt: skip
    signed = http.post("/sign-in", data={"csrf_token": csrf_token_in(page.data),
                                         "email": "ada@example.com", "password": PASSWORD,
                                         "pending": pending})  # fmt: skip
    consent = http.get(signed.headers["Location"])
    code = redirect_params(
        http.post(
            consent_action(consent.data),
            data={"csrf_token": csrf_token_in(consent.data), "decision": "approve"},
        )
    )["code"]
    tokens = redeem(http, client, code, verifier).json
    rotated = refresh(http, client, tokens["refresh_token"]).json
    settings = app.extensions["authserver.settings"]
    app.extensions["authserver.settings"] = dataclasses.replace(settings, refresh_grace_period=0)
    try:
        reused = refresh(http, client, tokens["refresh_token"])
    finally:
        app.extensions["authserver.settings"] = settings
    assert reused.status_code == 400
    cookie = http.get_cookie(app.extensions["authserver.settings"].session_cookie_name).value

    trail = [(e.event_type, e.outcome, e.details.get("method") or e.details.get("reason"))
             for e in events()]  # fmt: skip
    assert ("sign_in", "failure", "pwd") in trail
    assert ("sign_in", "success", "pwd") in trail
    assert ("consent.granted", "success", None) in trail
    assert ("token.family_revoked", "success", "refresh_reuse") in trail
    assert ("token.refresh_refused", "failure", "rotated-out refresh token reused") in trail

    rows = json.dumps([e.as_dict() for e in events()])
    secrets = [PASSWORD, code, client.secret, cookie, rotated["refresh_token"]]
    secrets += [tokens[name] for name in ("access_token", "refresh_token", "id_token")]
    for secret in secrets:
        assert secret not in rows
