"""The device authorization grant (RFC 8628), played step by step as a CLI and a person
would: /device_authorization, the /device page, and polling /token."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import DeviceAuthorization, GrantFamily, User
from authserver.models.clients import DEVICE_CODE_GRANT_TYPE
from authserver.oauth.scopes import SCOPES
from authserver.oauth.user_codes import ALPHABET
from tests.concurrency import at_once
from tests.factories import make_user
from tests.oauth_helpers import (
    RegisteredClient,
    csrf_token_in,
    post_token,
    refresh,
    register_client,
    sign_in,
    verify_as_resource_server,
)

DEVICE_GRANTS = [DEVICE_CODE_GRANT_TYPE, "refresh_token"]
USER_CODE = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


@pytest.fixture
def cli_app(app: Flask) -> RegisteredClient:
    return register_client(public=True, name="Deploy CLI", grant_types=DEVICE_GRANTS)


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(email="ada@example.com")
    db.session.commit()
    return user


def start(http: FlaskClient, registered: RegisteredClient, **extra: str):  # noqa: ANN201
    """RFC 8628 §3.1: the device asks for codes."""
    form = {"client_id": registered.client_id, "scope": "openid profile offline_access", **extra}
    return http.post("/device_authorization", data=form)


def poll(http: FlaskClient, registered: RegisteredClient, device_code: str):  # noqa: ANN201
    """RFC 8628 §3.4: the device polls /token."""
    data = {"grant_type": DEVICE_CODE_GRANT_TYPE, "device_code": device_code}
    return post_token(http, registered, data)


def browser(app: Flask, person: User) -> FlaskClient:
    http = app.test_client()
    sign_in(app, http, person)
    return http


def type_code(http: FlaskClient, user_code: str):  # noqa: ANN201
    """Post the form as a browser does; `user_code` is sent percent-encoded as given, so a
    test can send bytes that are not UTF-8."""
    g.pop("csrf_token", None)  # each browser gets a CSRF token of its own session
    token = csrf_token_in(http.get("/device").data)
    body = f"csrf_token={token}&user_code={quote(user_code, safe='%')}"
    return http.post("/device", data=body, content_type="application/x-www-form-urlencoded")


def decide(http: FlaskClient, confirm_page: bytes, decision: str):  # noqa: ANN201
    form = {"csrf_token": csrf_token_in(confirm_page), "decision": decision}
    return http.post("/device/decide", data=form)


def approve(app: Flask, person: User, user_code: str) -> None:
    http = browser(app, person)
    confirm = type_code(http, user_code)
    assert confirm.status_code == 200, confirm.data[:300]
    assert decide(http, confirm.data, "approve").status_code == 200


def test_the_device_authorization_response_has_every_field_of_rfc_8628(
    http: FlaskClient, cli_app: RegisteredClient
) -> None:
    response = start(http, cli_app)
    assert response.status_code == 200, response.json
    body = response.json
    assert USER_CODE.match(body["user_code"])
    assert body["verification_uri"] == "http://127.0.0.1:8000/device"
    assert body["verification_uri_complete"].endswith("user_code=" + body["user_code"])
    assert body["expires_in"] == 600 and body["interval"] == 5
    assert len(body["device_code"]) >= 32


def test_codes_are_stored_only_as_hashes(http: FlaskClient, cli_app: RegisteredClient) -> None:
    body = start(http, cli_app).json
    stored = db.session.scalar(select(DeviceAuthorization))
    assert stored.device_code_hash == sha256_hex(body["device_code"])
    assert stored.user_code_hash == sha256_hex(body["user_code"].replace("-", ""))


def test_the_whole_flow_issues_tokens_of_a_family_that_rotates(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    assert poll(http, cli_app, body["device_code"]).json["error"] == "authorization_pending"
    approve(app, person, body["user_code"].lower().replace("-", " "))
    _wait_interval(app, body["device_code"])
    tokens = poll(http, cli_app, body["device_code"])
    assert tokens.status_code == 200, tokens.json
    claims = verify_as_resource_server(http, tokens.json["id_token"], cli_app.client_id).claims
    assert claims["sub"] == str(person.id)
    assert db.session.scalar(select(GrantFamily)).client_id == cli_app.client.id
    rotated = refresh(http, cli_app, tokens.json["refresh_token"])
    assert (
        rotated.status_code == 200 and rotated.json["refresh_token"] != tokens.json["refresh_token"]
    )


def test_revoking_the_device_grants_refresh_token_revokes_its_family(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    approve(app, person, body["user_code"])
    tokens = poll(http, cli_app, body["device_code"]).json
    form = {"token": tokens["refresh_token"], "client_id": cli_app.client_id}
    assert http.post("/revoke", data=form).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(GrantFamily)).revoked_at is not None
    assert refresh(http, cli_app, tokens["refresh_token"]).json["error"] == "invalid_grant"


def _wait_interval(app: Flask, device_code: str) -> None:
    """Pretend the device waited its interval since the last poll."""
    found = DeviceAuthorization.find_by_device_code(device_code)
    found.last_polled_at = None
    db.session.commit()


def test_a_device_code_is_single_use(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    approve(app, person, body["user_code"])
    assert poll(http, cli_app, body["device_code"]).status_code == 200
    _wait_interval(app, body["device_code"])
    again = poll(http, cli_app, body["device_code"])
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_polling_faster_than_the_interval_is_slow_down_and_raises_it_by_five_seconds(
    http: FlaskClient, cli_app: RegisteredClient
) -> None:
    body = start(http, cli_app).json
    assert poll(http, cli_app, body["device_code"]).json["error"] == "authorization_pending"
    assert poll(http, cli_app, body["device_code"]).json["error"] == "slow_down"
    assert DeviceAuthorization.find_by_device_code(body["device_code"]).interval == 10


def test_waiting_the_interval_between_polls_is_not_slow_down(
    http: FlaskClient, cli_app: RegisteredClient, move_clock: Callable[..., None]
) -> None:
    body = start(http, cli_app).json
    poll(http, cli_app, body["device_code"])
    move_clock(seconds=5)
    assert poll(http, cli_app, body["device_code"]).json["error"] == "authorization_pending"


def test_a_denied_request_is_access_denied(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    person_browser = browser(app, person)
    confirm = type_code(person_browser, body["user_code"])
    assert decide(person_browser, confirm.data, "deny").status_code == 200
    assert poll(http, cli_app, body["device_code"]).json["error"] == "access_denied"


def test_an_expired_device_code_is_expired_token(
    http: FlaskClient, cli_app: RegisteredClient, move_clock: Callable[..., None]
) -> None:
    body = start(http, cli_app).json
    move_clock(seconds=601)
    assert poll(http, cli_app, body["device_code"]).json["error"] == "expired_token"


def test_another_clients_device_code_is_invalid_grant_and_leaves_the_owners_request_alone(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    other = register_client(public=True, name="Other CLI", grant_types=DEVICE_GRANTS)
    body = start(http, cli_app).json
    approve(app, person, body["user_code"])
    stolen = poll(http, other, body["device_code"])
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    assert poll(http, cli_app, body["device_code"]).status_code == 200


def test_a_client_without_the_grant_gets_unauthorized_client(http: FlaskClient) -> None:
    web_app = register_client(public=True)
    response = start(http, web_app)
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_a_scope_the_client_was_not_registered_for_is_invalid_scope(
    http: FlaskClient, cli_app: RegisteredClient
) -> None:
    response = start(http, cli_app, scope="openid services:sync")
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_the_page_sends_a_stranger_to_sign_in_and_keeps_the_code(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    page = http.get(body["verification_uri_complete"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 302 and "/sign-in?return_to=device" in page.headers["Location"]
    sign_in(app, http, person)
    assert body["user_code"].encode() in http.get("/device").data


def test_the_confirmation_names_the_client_and_the_scopes(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    confirm = type_code(browser(app, person), body["user_code"])
    assert b"Deploy CLI" in confirm.data
    for scope in ("openid", "profile", "offline_access"):
        assert SCOPES[scope].encode() in confirm.data


@pytest.mark.parametrize(
    "typed", ["", "BCDF", "AAAA-AAAA", "BCDF-GHJK\x00", "%ED%A0%80" * 8, "B" * 5000]
)
def test_a_code_that_cannot_be_one_is_a_friendly_400(app: Flask, person: User, typed: str) -> None:
    response = type_code(browser(app, person), typed)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert db.session.scalar(select(DeviceAuthorization)) is None


def test_guessing_is_limited_per_person(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    guesser = browser(app, person)
    for _ in range(5):
        assert type_code(guesser, "BBBB-BBBB").status_code == 400
    limited = type_code(guesser, body["user_code"])
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_typing_the_right_code_is_not_a_guess(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    typist = browser(app, person)
    for _ in range(6):
        assert type_code(typist, body["user_code"]).status_code == 200


def test_a_strangers_guesses_do_not_lock_out_the_person_whose_code_it_is(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    body = start(http, cli_app).json
    stranger = browser(app, make_user(email="mallory@example.com"))
    for _ in range(6):
        type_code(stranger, "BBBB-BBBB")
    assert type_code(stranger, body["user_code"]).status_code == 429
    assert type_code(browser(app, person), body["user_code"]).status_code == 200


def test_only_the_request_this_browser_typed_the_code_of_can_be_decided(
    app: Flask, http: FlaskClient, cli_app: RegisteredClient, person: User
) -> None:
    start(http, cli_app)
    other_browser = browser(app, person)
    g.pop("csrf_token", None)
    page = other_browser.get("/device")
    refused = decide(other_browser, page.data, "approve")
    assert refused.status_code == 400
    assert db.session.scalar(select(DeviceAuthorization)).approved is None


# ---- concurrency (PostgreSQL: row locks) ----------------------------------------------------


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; concurrent polling is a PostgreSQL guarantee")


def test_concurrent_polls_of_an_approved_code_issue_tokens_exactly_once(
    app: Flask, cli_app: RegisteredClient, person: User, postgres_only: None
) -> None:
    http = app.test_client()
    body = start(http, cli_app).json
    approve(app, person, body["user_code"])
    client_id, callers = cli_app.client_id, 5

    def call() -> int:
        data = {"grant_type": DEVICE_CODE_GRANT_TYPE, "device_code": body["device_code"]}
        return app.test_client().post("/token", data={**data, "client_id": client_id}).status_code

    statuses = at_once([call] * callers)
    assert sorted(statuses) == [200] + [400] * (callers - 1)
    db.session.expire_all()
    assert len(db.session.scalars(select(GrantFamily)).all()) == 1


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("client_id=a&client_id=b", "application/x-www-form-urlencoded"),
        ('{"client_id": "x"}', "application/json"),
        ("client_id=x&scope=" + "openid%20" * 1000, "application/x-www-form-urlencoded"),
        ("client_id=x&scope=openid%00", "application/x-www-form-urlencoded"),
        ("client_id=x&scope=a%ED%A0%80b", "application/x-www-form-urlencoded"),
    ],
)
def test_a_bad_device_authorization_request_is_a_json_error_never_a_500(
    http: FlaskClient, cli_app: RegisteredClient, body: str, content_type: str
) -> None:
    body = body.replace("client_id=x", f"client_id={cli_app.client_id}")
    response = http.post("/device_authorization", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["error"] in ("invalid_request", "invalid_scope")
    assert db.session.scalar(select(DeviceAuthorization)) is None


@pytest.mark.parametrize("device_code", ["", "x" * 5000, "unknown"])
def test_a_bad_device_code_is_a_json_error(
    http: FlaskClient, cli_app: RegisteredClient, device_code: str
) -> None:
    response = poll(http, cli_app, device_code)
    assert response.status_code == 400
    assert response.json["error"] in ("invalid_request", "invalid_grant")


def test_the_code_form_needs_its_csrf_token(
    app: Flask, cli_app: RegisteredClient, person: User
) -> None:
    response = browser(app, person).post("/device", data={"user_code": "BCDF-GHJK"})
    assert response.status_code == 400
