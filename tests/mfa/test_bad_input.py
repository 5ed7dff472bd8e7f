"""Whatever a browser (or anyone) posts as a WebAuthn credential, a code or a name, the
answer is a clear refusal in the page's own format, never a 500."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import current_settings
from authserver.mfa.webauthn import RelyingParty
from authserver.models import User
from tests.mfa.helpers import (
    add_totp,
    make_person,
    post_form,
    sign_in_with_password,
    sign_out_browser,
)
from tests.mfa.software_passkey import SoftwarePasskey
from tests.oauth_helpers import csrf_token_in, sign_in

JUNK = [
    "",
    "not json",
    "{}",
    "[]",
    json.dumps({"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}),
    json.dumps({"id": "\ud800", "rawId": "\udfff", "response": {"clientDataJSON": "\ud800"}}),
    json.dumps({"id": "AA", "rawId": "AA", "response": {"clientDataJSON": "e30"}}),  # "{}"
    "x" * 200_000,
]


@pytest.fixture
def person(app: Flask) -> User:
    return make_person()


@pytest.mark.parametrize("credential", JUNK)
def test_junk_at_passkey_sign_in_is_refused(http: FlaskClient, credential: str) -> None:
    page = http.get("/sign-in")
    response = http.post(
        "/sign-in/passkey", data={"csrf_token": csrf_token_in(page.data), "credential": credential}
    )
    assert response.status_code == 401 and b"did not work" in response.data


def test_failed_passkey_sign_ins_from_one_address_pause_it(http: FlaskClient) -> None:
    form = {"csrf_token": csrf_token_in(http.get("/sign-in").data), "credential": "{}"}
    for _ in range(20):
        assert http.post("/sign-in/passkey", data=form).status_code == 401
    paused = http.post("/sign-in/passkey", data=form)
    assert paused.status_code == 429 and int(paused.headers["Retry-After"]) > 0
    assert b"Too many attempts" in paused.data


def test_passkey_sign_ins_that_work_do_not_spend_the_failure_allowance(
    app: Flask, http: FlaskClient, person: User
) -> None:
    """A household or an office behind one address signs in with passkeys all day: only
    failures count (mfa.routes.PASSKEY_FAILURES, 20 a minute), so the 21st and later
    sign-ins work, and the failures keep their whole allowance."""
    passkey = SoftwarePasskey(person, RelyingParty.of(current_settings()))
    for _ in range(22):
        token = csrf_token_in(http.get("/sign-in").data)
        options = http.post("/sign-in/passkey/options", data={"csrf_token": token}).get_json()
        form = {"csrf_token": token, "credential": passkey.assertion(options["challenge"])}
        assert http.post("/sign-in/passkey", data=form).status_code == 303
        sign_out_browser(http)
    form = {"csrf_token": csrf_token_in(http.get("/sign-in").data), "credential": "{}"}
    for _ in range(20):
        assert http.post("/sign-in/passkey", data=form).status_code == 401
    assert http.post("/sign-in/passkey", data=form).status_code == 429


@pytest.mark.parametrize("credential", JUNK)
def test_junk_at_the_second_step_counts_as_a_wrong_answer(
    http: FlaskClient, person: User, credential: str
) -> None:
    add_totp(person)
    sign_in_with_password(http)
    page = http.get("/sign-in/second-step")
    response = http.post(
        "/sign-in/second-step/webauthn",
        data={"csrf_token": csrf_token_in(page.data), "credential": credential},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("credential", JUNK)
def test_junk_registration_adds_no_key(
    app: Flask, http: FlaskClient, person: User, credential: str
) -> None:
    sign_in(app, http, person)
    response = post_form(
        http,
        "/account/security",
        "/account/security/webauthn",
        credential=credential,
        name="\u202e" * 300,
    )
    assert response.status_code == 400 and b"could not be added" in response.data


@pytest.mark.parametrize("code", ["\u0663" * 6, "1" * 10_000, "12 34 56 78", "-12345"])
def test_odd_codes_are_wrong_answers(http: FlaskClient, person: User, code: str) -> None:
    add_totp(person)
    sign_in_with_password(http)
    page = http.get("/sign-in/second-step")
    for field in ("code", "recovery_code"):
        response = http.post(
            "/sign-in/second-step", data={"csrf_token": csrf_token_in(page.data), field: code}
        )
        assert response.status_code == 401


def test_a_stale_pending_id_at_step_up_is_the_expired_page(http: FlaskClient) -> None:
    for value in ("", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "%ED%A0%80"):
        assert http.get(f"/sign-in/step-up?pending={value}").status_code == 400
