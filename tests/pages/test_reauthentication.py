"""prompt=login and max_age through the real sign-in form: a sign-in made for the request
satisfies it, max_age counts from the request, and re-authenticating keeps the session."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from sqlalchemy import func, select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.identity.passwords import hash_password
from authserver.models import GrantFamily, Session, User
from tests.factories import make_user
from tests.oauth_helpers import (
    RegisteredClient,
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
)

PASSWORD = "correct horse battery staple"
ONLINE = "openid profile email"  # no offline_access: grants that end with the session


@pytest.fixture
def ada(app: Flask) -> User:
    user = make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    return user


@pytest.fixture
def first_party(app: Flask) -> RegisteredClient:
    return register_client(is_first_party=True)


def submit(http: FlaskClient, email: str, pending: str | None = None):  # noqa: ANN201
    page = http.get("/sign-in", query_string={"pending": pending} if pending else {})
    form = {"csrf_token": csrf_token_in(page.data), "email": email, "password": PASSWORD}
    if pending:
        form["pending"] = pending
    response = http.post("/sign-in", data=form)
    assert response.status_code == 303, response.data[:300]
    return response


def authorize_until_code(
    http: FlaskClient, client: RegisteredClient, email: str, **over: str
) -> tuple[dict[str, str], str, int]:
    """Start an authorization, sign in on the form whenever sent there; the code's
    redirect parameters, the verifier, and how many times the form was shown."""
    verifier, challenge = pkce_pair()
    response = http.get("/authorize", query_string=authorize_params(client, challenge, **over))
    sign_ins = 0
    while urlsplit(response.headers.get("Location", "")).path == "/sign-in":
        assert sign_ins < 2, "sent to sign in again after signing in for this request"
        pending = parse_qs(urlsplit(response.headers["Location"]).query)["pending"][0]
        signed = submit(http, email, pending)
        sign_ins += 1
        response = http.get(signed.headers["Location"])
    return redirect_params(response), verifier, sign_ins


def id_token_claims(http: FlaskClient, client: RegisteredClient, params: dict, verifier: str):  # noqa: ANN201
    tokens = redeem(http, client, params["code"], verifier).json
    return jwt.decode(tokens["id_token"], _keys(http)).claims


def _keys(http: FlaskClient):  # noqa: ANN202
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(http.get("/jwks.json").json)


@pytest.mark.parametrize(
    "asks",
    [{"max_age": "0"}, {"prompt": "login"}, {"prompt": "login", "max_age": "0"}],
    ids=["max-age-0", "prompt-login", "both"],
)
def test_a_sign_in_made_for_the_request_satisfies_it_once(
    http: FlaskClient, ada: User, first_party: RegisteredClient, asks: dict[str, str], move_clock
) -> None:  # noqa: ANN001
    submit(http, ada.email)
    move_clock(seconds=5)
    params, verifier, sign_ins = authorize_until_code(http, first_party, ada.email, **asks)
    assert sign_ins == 1 and "code" in params
    claims = id_token_claims(http, first_party, params, verifier)
    assert claims["auth_time"] >= int(utcnow().timestamp()) - 1


def test_max_age_counts_from_the_request_not_from_pressing_allow(
    http: FlaskClient, ada: User, move_clock
) -> None:  # noqa: ANN001
    third_party = register_client(name="Acme Reports")
    submit(http, ada.email)
    move_clock(seconds=200)
    _, challenge = pkce_pair()
    query = authorize_params(third_party, challenge, max_age="300")
    page = http.get("/authorize", query_string=query)
    assert page.status_code == 200 and b"Acme Reports" in page.data
    move_clock(seconds=200)  # 400 s since the sign-in while the person reads the page
    action = re.search(rb'<form method="post" action="([^"]+)"', page.data).group(1).decode()
    answer = http.post(action, data={"csrf_token": csrf_token_in(page.data), "decision": "approve"})
    assert "code" in redirect_params(answer)


def test_max_age_already_exceeded_at_the_request_still_asks_to_sign_in(
    http: FlaskClient, ada: User, first_party: RegisteredClient, move_clock
) -> None:  # noqa: ANN001
    submit(http, ada.email)
    move_clock(seconds=301)
    params, _, sign_ins = authorize_until_code(http, first_party, ada.email, max_age="300")
    assert sign_ins == 1 and "code" in params


def test_signing_in_again_as_the_same_person_keeps_the_session_and_other_apps(
    http: FlaskClient, ada: User, first_party: RegisteredClient, move_clock
) -> None:  # noqa: ANN001
    other_app = register_client(is_first_party=True)
    params, verifier, _ = authorize_until_code(http, other_app, ada.email, scope=ONLINE)
    other_tokens = redeem(http, other_app, params["code"], verifier).json
    session = db.session.scalar(select(Session))
    session_id, old_hash = session.id, session.token_hash
    move_clock(seconds=60)

    params, verifier, sign_ins = authorize_until_code(http, first_party, ada.email, prompt="login")
    claims = id_token_claims(http, first_party, params, verifier)

    assert sign_ins == 1
    db.session.expire_all()
    session = db.session.scalar(select(Session))
    assert db.session.scalar(select(func.count()).select_from(Session)) == 1
    assert session.id == session_id and claims["sid"] == str(session_id)
    assert session.token_hash != old_hash  # a new cookie token: no fixation
    assert claims["auth_time"] >= int(utcnow().timestamp()) - 1
    other_family = db.session.scalar(
        select(GrantFamily).where(GrantFamily.client_id == other_app.client.id)
    )
    assert other_family.revoked_at is None
    userinfo = http.get(
        "/userinfo", headers={"Authorization": f"Bearer {other_tokens['access_token']}"}
    )
    assert userinfo.status_code == 200


def test_the_cookie_of_before_the_reauthentication_no_longer_works(
    app: Flask, ada: User, first_party: RegisteredClient
) -> None:
    http = app.test_client()
    submit(http, ada.email)
    cookie_name = app.extensions["authserver.settings"].session_cookie_name
    old = http.get_cookie(cookie_name).value
    authorize_until_code(http, first_party, ada.email, prompt="login")
    assert http.get_cookie(cookie_name).value != old
    stale = app.test_client()
    stale.set_cookie(cookie_name, old)
    _, challenge = pkce_pair()
    response = stale.get("/authorize", query_string=authorize_params(first_party, challenge))
    assert urlsplit(response.headers["Location"]).path == "/sign-in"


def test_a_different_person_signing_in_ends_the_previous_session_and_its_grants(
    http: FlaskClient, ada: User, first_party: RegisteredClient
) -> None:
    grace = make_user(email="grace@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    params, verifier, _ = authorize_until_code(http, first_party, ada.email, scope=ONLINE)
    redeem(http, first_party, params["code"], verifier)
    ada_session = db.session.scalar(select(Session)).id

    submit(http, grace.email)

    db.session.expire_all()
    sessions = db.session.scalars(select(Session)).all()
    assert [s.user_id for s in sessions] == [grace.id] and sessions[0].id != ada_session
    family = db.session.scalar(select(GrantFamily))
    assert (family.revoked_at is not None, family.revoked_reason) == (True, "new_sign_in")
