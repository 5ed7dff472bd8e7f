"""Enrolling an authenticator app on /account/security, step-up with acr_values, the
organization policy, and the rules for adding and removing factors."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.mfa import recovery_codes
from authserver.mfa.amr import ACR_MULTI_FACTOR
from authserver.models import (
    OrganizationFactorPolicy,
    RecoveryCode,
    Session,
    TotpSecret,
    User,
    WebAuthnCredential,
)
from tests.factories import make_member, make_org, make_user
from tests.mfa.helpers import (
    add_totp,
    current_code,
    give_second_factor,
    make_person,
    post_form,
    sign_in_with_password,
)
from tests.oauth_helpers import (
    authorize_params,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    sign_in,
    verify_as_resource_server,
)

SECURITY = "/account/security"


@pytest.fixture
def person(app: Flask) -> User:
    return make_person()


def the_session() -> Session:
    return db.session.scalar(select(Session))


def enrol_totp_through_the_page(http: FlaskClient, pending: str | None = None):  # noqa: ANN201
    extra = {"pending": pending} if pending else {}
    page = post_form(http, SECURITY, f"{SECURITY}/totp", **extra)
    assert page.status_code == 200 and b"<svg" in page.data
    secret = re.search(rb"data-totp-secret>([A-Z2-7]+)<", page.data).group(1).decode()
    app_totp = pyotp.TOTP(secret)
    confirmed = post_form(
        http, SECURITY, f"{SECURITY}/totp/confirm", code=app_totp.at(utcnow()), **extra
    )
    return app_totp, confirmed


def test_enrolment_shows_a_qr_code_drawn_here_and_counts_only_once_confirmed(
    app: Flask, http: FlaskClient, person: User
) -> None:
    sign_in(app, http, person)
    page = post_form(http, SECURITY, f"{SECURITY}/totp")
    assert b"<svg" in page.data and b"<script>" not in page.data and b"style=" not in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert TotpSecret.confirmed_of(person.id) is None

    wrong = post_form(http, SECURITY, f"{SECURITY}/totp/confirm", code="000000")
    assert wrong.status_code == 401 and TotpSecret.confirmed_of(person.id) is None


def test_confirming_the_app_shows_ten_recovery_codes_once_and_upgrades_the_session(
    app: Flask, http: FlaskClient, person: User
) -> None:
    sign_in(app, http, person)
    app_totp, confirmed = enrol_totp_through_the_page(http)
    assert confirmed.status_code == 200
    shown = re.findall(rb"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", confirmed.data)
    assert len(shown) == 10
    stored = TotpSecret.confirmed_of(person.id)
    assert stored is not None and app_totp.secret not in stored.secret_ciphertext  # sealed
    assert the_session().auth_methods == ["pwd", "otp", "mfa"]
    assert b"<code>" not in http.get(SECURITY).data  # shown once


def test_a_second_factor_cannot_be_added_by_a_session_that_did_not_use_the_first(
    app: Flask, http: FlaskClient, person: User
) -> None:
    db.session.add(
        WebAuthnCredential(user_id=person.id, name="Key", credential_id=b"k1", public_key=b"p")
    )
    db.session.commit()
    sign_in(app, http, person)  # a password only
    refused = post_form(http, SECURITY, f"{SECURITY}/totp")
    assert refused.status_code == 403 and TotpSecret.of(person.id) is None


def resume_and_claims(http: FlaskClient, location: str, client, verifier: str) -> dict:  # noqa: ANN001
    params = redirect_params(http.get(location))
    tokens = redeem(http, client, params["code"], verifier).json
    return verify_as_resource_server(http, tokens["id_token"], client.client_id).claims


def test_acr_values_step_a_password_session_up_without_a_new_password(
    app: Flask, http: FlaskClient, person: User
) -> None:
    app_totp = add_totp(person)
    session_id = sign_in(app, http, person)
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()

    start = http.get(
        "/authorize", query_string=authorize_params(client, challenge, acr_values=ACR_MULTI_FACTOR)
    )
    assert start.status_code == 302 and "/sign-in/step-up?pending=" in start.headers["Location"]
    pending = parse_qs(urlsplit(start.headers["Location"]).query)["pending"][0]
    to_second_step = http.get(start.headers["Location"])
    assert to_second_step.headers["Location"].endswith("/sign-in/second-step")
    old_token = the_session().token_hash

    done = give_second_factor(http, code=current_code(app_totp))

    assert done.headers["Location"].endswith(f"/authorize/resume/{pending}")
    claims = resume_and_claims(http, done.headers["Location"], client, verifier)
    assert claims["acr"] == ACR_MULTI_FACTOR and claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == str(session_id)  # the same session, stepped up
    assert the_session().token_hash != old_token  # under a new cookie token


def test_a_multi_factor_session_meets_acr_values_at_once(
    app: Flask, http: FlaskClient, person: User
) -> None:
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    response = http.get(
        "/authorize", query_string=authorize_params(client, challenge, acr_values=ACR_MULTI_FACTOR)
    )
    assert "code" in redirect_params(response)


def test_step_up_with_prompt_none_answers_interaction_required(
    app: Flask, http: FlaskClient, person: User
) -> None:
    add_totp(person)
    sign_in(app, http, person)
    client = register_client(is_first_party=True)
    _, challenge = pkce_pair()
    params = authorize_params(client, challenge, acr_values=ACR_MULTI_FACTOR, prompt="none")
    assert redirect_params(http.get("/authorize", query_string=params))["error"] == (
        "interaction_required"
    )


def test_max_age_still_asks_for_the_first_factor_before_a_step_up(
    app: Flask, http: FlaskClient, person: User, move_clock: Callable[..., None]
) -> None:
    add_totp(person)
    sign_in(app, http, person)
    move_clock(seconds=120)
    client = register_client(is_first_party=True)
    _, challenge = pkce_pair()
    params = authorize_params(client, challenge, acr_values=ACR_MULTI_FACTOR, max_age="60")
    assert http.get("/authorize", query_string=params).headers["Location"].startswith("/sign-in?")


def test_prompt_login_with_acr_values_asks_for_both_factors_again(
    app: Flask, http: FlaskClient, person: User
) -> None:
    app_totp = add_totp(person)
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    params = authorize_params(client, challenge, acr_values=ACR_MULTI_FACTOR, prompt="login")
    start = http.get("/authorize", query_string=params)
    assert start.headers["Location"].startswith("/sign-in?")  # the first factor again
    pending = parse_qs(urlsplit(start.headers["Location"]).query)["pending"][0]

    signed = sign_in_with_password(http, pending)
    assert signed.headers["Location"].endswith("/second-step")  # and the second
    done = give_second_factor(http, code=current_code(app_totp))
    claims = resume_and_claims(http, done.headers["Location"], client, verifier)
    assert claims["acr"] == ACR_MULTI_FACTOR and claims["amr"] == ["pwd", "otp", "mfa"]


@pytest.fixture
def strict_org(person: User):  # noqa: ANN201
    org = make_org(slug="acme")
    make_member(org, person)
    db.session.add(OrganizationFactorPolicy(organization_id=org.id, require_second_factor=True))
    db.session.commit()
    return org


def test_an_org_that_requires_a_factor_has_the_person_enrol_then_gets_its_token(
    app: Flask, http: FlaskClient, person: User, strict_org
) -> None:  # noqa: ANN001
    sign_in(app, http, person)
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    start = http.get(
        "/authorize", query_string=authorize_params(client, challenge, organization="acme")
    )
    step_up = http.get(start.headers["Location"])
    assert step_up.headers["Location"].startswith(f"{SECURITY}?pending=")
    pending = parse_qs(urlsplit(step_up.headers["Location"]).query)["pending"][0]
    assert b"asks for a second factor" in http.get(step_up.headers["Location"]).data

    _, confirmed = enrol_totp_through_the_page(http, pending)
    onward = re.search(rb'class="button" href="([^"]+)"', confirmed.data).group(1).decode()
    assert onward.endswith(f"/authorize/resume/{pending}")

    params = redirect_params(http.get(onward))
    tokens = redeem(http, client, params["code"], verifier).json
    access = verify_as_resource_server(http, tokens["access_token"], client.client_id).claims
    assert access["org_slug"] == "acme"


def test_an_org_that_requires_a_factor_gets_no_token_from_a_password_session(
    app: Flask, http: FlaskClient, person: User, strict_org
) -> None:  # noqa: ANN001
    add_totp(person)
    sign_in(app, http, person)
    client = register_client(is_first_party=True)
    _, challenge = pkce_pair()
    quiet = authorize_params(client, challenge, organization="acme", prompt="none")
    assert redirect_params(http.get("/authorize", query_string=quiet))["error"] == (
        "interaction_required"
    )
    # Without organization= the same session gets its code: the policy is the org's.
    plain = authorize_params(client, challenge)
    assert "code" in redirect_params(http.get("/authorize", query_string=plain))


def remove_totp(http: FlaskClient):  # noqa: ANN201
    return post_form(http, SECURITY, f"{SECURITY}/totp/remove")


def test_removing_a_factor_needs_a_sign_in_that_used_one(
    app: Flask, http: FlaskClient, person: User
) -> None:
    add_totp(person)
    sign_in(app, http, person)
    assert remove_totp(http).status_code == 403
    assert TotpSecret.confirmed_of(person.id) is not None


def test_removing_a_factor_needs_a_recent_sign_in(
    app: Flask, http: FlaskClient, person: User, move_clock: Callable[..., None]
) -> None:
    add_totp(person)
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    move_clock(minutes=16)
    assert remove_totp(http).status_code == 403


def test_a_recent_multi_factor_sign_in_removes_the_app_and_its_recovery_codes(
    app: Flask, http: FlaskClient, person: User
) -> None:
    add_totp(person)
    recovery_codes.regenerate(person)
    db.session.commit()
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    assert remove_totp(http).status_code == 303
    assert TotpSecret.of(person.id) is None
    assert RecoveryCode.unused_count(person.id) == 0


def test_the_last_factor_under_an_org_policy_cannot_be_removed(
    app: Flask, http: FlaskClient, person: User, strict_org
) -> None:  # noqa: ANN001
    add_totp(person)
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    refused = remove_totp(http)
    assert refused.status_code == 403 and b"organization" in refused.data
    db.session.add(
        WebAuthnCredential(user_id=person.id, name="Key", credential_id=b"k1", public_key=b"p")
    )
    db.session.commit()
    assert remove_totp(http).status_code == 303  # another factor remains


def test_someone_elses_key_cannot_be_removed(app: Flask, http: FlaskClient, person: User) -> None:
    other = make_user(email="bob@example.com")
    key = WebAuthnCredential(user_id=other.id, name="Bob", credential_id=b"b", public_key=b"p")
    db.session.add(key)
    db.session.commit()
    sign_in(app, http, person, methods=("pwd", "otp", "mfa"))
    response = post_form(http, SECURITY, f"{SECURITY}/webauthn/{key.id}/remove")
    assert response.status_code == 404 and db.session.get(WebAuthnCredential, key.id) is not None


def test_discovery_advertises_the_multi_factor_acr(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").json
    assert metadata["acr_values_supported"] == [ACR_MULTI_FACTOR]
    assert "acr" in metadata["claims_supported"]
