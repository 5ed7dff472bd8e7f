"""The second sign-in step after a password: TOTP and recovery codes, amr and acr in the
ID token, nothing signed in before the factor, single use, and throttling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from cryptography.fernet import Fernet
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.mfa import recovery_codes
from authserver.mfa.amr import ACR_MULTI_FACTOR
from authserver.models import (
    AuditEvent,
    OutboxMessage,
    PendingSignIn,
    RecoveryCode,
    Session,
    TotpSecret,
    User,
)
from tests.concurrency import at_once
from tests.mfa.helpers import (
    add_totp,
    current_code,
    give_second_factor,
    make_person,
    set_cookies,
    sign_in_with_password,
    sign_out_browser,
)
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture
def person(app: Flask) -> User:
    return make_person()


def sessions_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Session))


def id_token_claims(http: FlaskClient, resume: str, client, verifier: str) -> dict:  # noqa: ANN001
    params = redirect_params(http.get(resume))
    tokens = redeem(http, client, params["code"], verifier).json
    return verify_as_resource_server(http, tokens["id_token"], client.client_id).claims


def start_authorization(http: FlaskClient, **over: str):  # noqa: ANN201
    client = register_client(is_first_party=True)
    verifier, challenge = pkce_pair()
    start = http.get("/authorize", query_string=authorize_params(client, challenge, **over))
    pending = parse_qs(urlsplit(start.headers["Location"]).query)["pending"][0]
    return client, verifier, pending


def test_a_password_alone_signs_in_without_acr_when_no_factor_is_enrolled(
    http: FlaskClient, person: User
) -> None:
    client, verifier, pending = start_authorization(http)
    signed = sign_in_with_password(http, pending)
    assert signed.headers["Location"].endswith(f"/authorize/resume/{pending}")
    claims = id_token_claims(http, signed.headers["Location"], client, verifier)
    assert claims["amr"] == ["pwd"] and "acr" not in claims


def test_a_person_with_an_app_gets_the_second_step_and_no_session_before_it(
    http: FlaskClient, person: User
) -> None:
    add_totp(person)
    _, _, pending = start_authorization(http)
    signed = sign_in_with_password(http, pending)

    assert signed.status_code == 303 and signed.headers["Location"].endswith("/second-step")
    cookies = set_cookies(signed)
    assert len(cookies) == 1 and cookies[0].startswith("authserver_session_second_step=")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert sessions_count() == 0
    # What the browser holds is a random value; the row has only its hash.
    raw = cookies[0].split(";")[0].split("=", 1)[1]
    assert raw not in {r.token_hash for r in db.session.scalars(select(PendingSignIn))}
    page = http.get("/sign-in/second-step")
    assert b"authenticator app" in page.data and b"security key" not in page.data


def test_the_app_code_finishes_the_sign_in_with_amr_and_acr(
    http: FlaskClient, person: User
) -> None:
    app_totp = add_totp(person)
    client, verifier, pending = start_authorization(http)
    sign_in_with_password(http, pending)

    done = give_second_factor(http, code=current_code(app_totp))

    assert done.status_code == 303 and done.headers["Location"].endswith(pending)
    assert sessions_count() == 1
    claims = id_token_claims(http, done.headers["Location"], client, verifier)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == ACR_MULTI_FACTOR
    assert db.session.scalar(select(func.count()).select_from(PendingSignIn)) == 0


def test_a_used_code_is_refused_in_the_next_sign_in(http: FlaskClient, person: User) -> None:
    app_totp = add_totp(person)
    code = current_code(app_totp)
    sign_in_with_password(http)
    assert give_second_factor(http, code=code).status_code == 303

    sign_out_browser(http)
    sign_in_with_password(http)
    replayed = give_second_factor(http, code=code)
    assert replayed.status_code == 401 and b"already used" in replayed.data


@pytest.mark.parametrize(
    "code", ["000000", "", "１２３４５６"], ids=["wrong", "empty", "fullwidth"]
)
def test_a_wrong_code_starts_no_session(http: FlaskClient, person: User, code: str) -> None:
    add_totp(person)
    sign_in_with_password(http)
    assert give_second_factor(http, code=code).status_code == 401
    assert sessions_count() == 0


def test_the_second_step_without_its_cookie_is_a_dead_end(http: FlaskClient, person: User) -> None:
    add_totp(person)
    assert http.get("/sign-in/second-step").status_code == 400
    assert give_second_factor(http, code="123456").status_code == 400


def test_an_expired_second_step_asks_to_sign_in_again(
    http: FlaskClient, person: User, move_clock: Callable[..., None]
) -> None:
    app_totp = add_totp(person)
    sign_in_with_password(http)
    move_clock(minutes=6)
    assert give_second_factor(http, code=current_code(app_totp)).status_code == 400
    assert sessions_count() == 0


def test_five_wrong_answers_use_the_half_sign_in_up(http: FlaskClient, person: User) -> None:
    app_totp = add_totp(person)
    sign_in_with_password(http)
    for _ in range(4):
        assert give_second_factor(http, code="000000").status_code == 401
    last = give_second_factor(http, code="000000")
    assert last.status_code == 401 and b"sign in again" in last.data.lower()
    # Even the right code no longer helps: the first factor is asked again.
    assert give_second_factor(http, code=current_code(app_totp)).status_code == 400


def test_wrong_answers_for_one_account_pause_its_second_step(
    app: Flask, http: FlaskClient, person: User
) -> None:
    app_totp = add_totp(person)
    sign_in_with_password(http)
    for _ in range(5):
        give_second_factor(http, code="000000")
    sign_in_with_password(http)
    paused = give_second_factor(http, code=current_code(app_totp))
    assert paused.status_code == 429


def test_wrong_answers_at_once_get_no_more_than_the_accounts_allowance(
    app: Flask, person: User
) -> None:
    """Ten half-finished sign-ins answer wrong together: five are checked, five refused.
    Each answer is counted before its code is, so none slips in while the others run."""
    add_totp(person)
    browsers = []
    for _ in range(10):
        g.pop("csrf_token", None)  # each browser gets a CSRF token of its own session
        browser = app.test_client()
        sign_in_with_password(browser)
        browsers.append((browser, csrf_token_in(browser.get("/sign-in/second-step").data)))
    db.session.commit()

    def answer(browser: FlaskClient, token: str) -> int:
        form = {"csrf_token": token, "code": "000000"}
        return browser.post("/sign-in/second-step", data=form).status_code

    statuses = at_once([functools.partial(answer, *each) for each in browsers])
    assert sorted(statuses) == [401] * 5 + [429] * 5


def test_someone_with_the_password_cannot_pause_the_owners_own_browser(
    app: Flask, http: FlaskClient, person: User, move_clock: Callable[..., None]
) -> None:
    """OWASP's device cookies for the second step too: the owner's browser, which finished a
    sign-in before, has an allowance that the other party's wrong answers do not touch."""
    app_totp = add_totp(person)
    sign_in_with_password(http)
    assert give_second_factor(http, code=current_code(app_totp)).status_code == 303
    sign_out_browser(http)
    move_clock(seconds=31)  # the next code of the app, so that no answer is a replay
    g.pop("csrf_token", None)
    intruder = app.test_client()
    sign_in_with_password(intruder)
    for _ in range(5):
        give_second_factor(intruder, code="000000")
    sign_in_with_password(intruder)
    assert give_second_factor(intruder, code=current_code(app_totp)).status_code == 429

    g.pop("csrf_token", None)
    sign_in_with_password(http)
    assert give_second_factor(http, code=current_code(app_totp)).status_code == 303


def test_device_cookies_gathered_before_a_factor_share_one_ceiling(
    app: Flask, person: User
) -> None:
    """Whoever signed in with the password alone before the person set up a factor holds
    device cookies that are still valid; together they get the account's ceiling of
    answers (10 a minute), not 5 each."""
    browsers = []
    for _ in range(3):
        g.pop("csrf_token", None)
        browser = app.test_client()
        assert sign_in_with_password(browser).status_code == 303  # signed in: a cookie
        sign_out_browser(browser)
        browsers.append(browser)
    add_totp(person)
    answers = []
    for browser in browsers:
        g.pop("csrf_token", None)
        sign_in_with_password(browser)
        answers += [give_second_factor(browser, code="000000").status_code for _ in range(5)]
    assert answers.count(401) == 10 and answers[-5:] == [429] * 5


def test_right_answers_are_not_counted(
    http: FlaskClient, person: User, move_clock: Callable[..., None]
) -> None:
    app_totp = add_totp(person)
    for _ in range(12):  # more than the account's ceiling of 10 a minute
        sign_in_with_password(http)
        assert give_second_factor(http, code=current_code(app_totp)).status_code == 303
        sign_out_browser(http)
        move_clock(seconds=31)  # the app's next code


def test_a_stranger_without_the_password_cannot_spend_the_owners_attempts(
    app: Flask, http: FlaskClient, person: User
) -> None:
    app_totp = add_totp(person)
    for _ in range(12):  # the same client, before it passed the first factor
        assert give_second_factor(http, code="000000").status_code == 400
    sign_in_with_password(http)
    assert give_second_factor(http, code=current_code(app_totp)).status_code == 303


def test_a_recovery_code_signs_in_once_is_audited_and_tells_the_person(
    http: FlaskClient, person: User
) -> None:
    add_totp(person)
    codes = recovery_codes.regenerate(person)
    db.session.commit()
    sign_in_with_password(http)
    page = http.get("/sign-in/second-step")
    assert b"recovery code" in page.data.lower()

    done = give_second_factor(http, recovery_code=codes[3].upper())

    assert done.status_code == 303
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.event_type == "mfa.recovery_code_used")
    )
    assert event is not None and event.details["remaining"] == 9
    # The person is told by mail, through the outbox, in the sign-in's own transaction.
    (told,) = db.session.scalars(select(OutboxMessage)).all()
    assert told.payload["to"] == person.email
    assert told.payload["subject"].startswith("A recovery code was used to sign in")
    assert "9 unused recovery codes left" in told.payload["text"]

    sign_out_browser(http)
    sign_in_with_password(http)
    assert give_second_factor(http, recovery_code=codes[3]).status_code == 401


def test_recovery_codes_are_stored_only_as_hashes(app: Flask, person: User) -> None:
    codes = recovery_codes.regenerate(person)
    db.session.commit()
    stored = {row.code_hash for row in db.session.scalars(select(RecoveryCode))}
    assert len(codes) == len(set(codes)) == 10 == len(stored)
    assert not stored & set(codes)


def test_regenerating_recovery_codes_makes_the_old_ones_useless(
    http: FlaskClient, person: User
) -> None:
    add_totp(person)
    old = recovery_codes.regenerate(person)
    recovery_codes.regenerate(person)
    db.session.commit()
    sign_in_with_password(http)
    assert give_second_factor(http, recovery_code=old[0]).status_code == 401


def test_an_app_secret_sealed_under_another_secret_key_fails_cleanly(
    http: FlaskClient, person: User
) -> None:
    """Changing AUTHSERVER_SECRET_KEY makes stored app secrets unreadable: a refusal (and
    an error log line), never a 500."""
    other_key, raw = Fernet(Fernet.generate_key()), pyotp.random_base32()
    db.session.add(
        TotpSecret(
            user_id=person.id,
            secret_ciphertext=other_key.encrypt(raw.encode()).decode(),
            confirmed_at=utcnow(),
            last_used_step=0,
        )
    )
    db.session.commit()
    sign_in_with_password(http)
    assert give_second_factor(http, code=pyotp.TOTP(raw).at(utcnow())).status_code == 401
