"""Who may enter /admin, and who may do the root-only things: rules that fail if broken."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent, Session, User
from tests.admin.conftest import post

CONSOLE_PAGES = [
    "/admin",
    "/admin/",
    "/admin/people",
    "/admin/clients",
    "/admin/clients/new",
    "/admin/services",
    "/admin/orgs",
    "/admin/keys",
    "/admin/audit",
    "/admin/audit/export",
]


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_an_operator_sees_every_console_page(
    console: Callable[[User], FlaskClient], admin_operator: User, path: str
) -> None:
    response = console(admin_operator).get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", [*CONSOLE_PAGES, "/admin/people/x", "/admin/no-such-page"])
def test_a_person_without_a_platform_role_gets_the_plain_404_everywhere(
    console: Callable[[User], FlaskClient], http: FlaskClient, person: User, path: str
) -> None:
    unknown = http.get("/no-such-page")
    response = console(person).get(path)
    assert response.status_code == 404
    assert response.data == unknown.data  # not a word that a console is here
    for header in ("Cache-Control", "Content-Security-Policy", "X-Frame-Options"):
        assert response.headers.get(header) == unknown.headers.get(header)


def test_a_post_by_a_person_without_a_role_is_404_even_without_a_csrf_token(
    console: Callable[[User], FlaskClient], person: User, root: User
) -> None:
    http = console(person)
    response = http.post(f"/admin/people/{root.id}/disable")
    assert response.status_code == 404
    assert db.session.get(User, root.id).is_active


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin/keys/rotate"), ("DELETE", "/admin/people")]
)
def test_a_wrong_method_is_the_plain_404_too(
    console: Callable[[User], FlaskClient], http: FlaskClient, person: User, method: str, path: str
) -> None:
    unknown = http.get("/no-such-page")
    response = console(person).open(path, method=method)
    assert response.status_code == 404 and response.data == unknown.data


def test_a_wrong_method_elsewhere_is_still_405(http: FlaskClient) -> None:
    assert http.get("/token").status_code == 405


def test_nobody_signed_in_is_sent_to_the_sign_in_page_that_returns_here(
    http: FlaskClient,
) -> None:
    response = http.get("/admin/people")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sign-in?return_to=admin")


def test_a_stale_sign_in_must_sign_in_again(
    console: Callable[[User], FlaskClient], admin_operator: User, move_clock
) -> None:
    http = console(admin_operator)
    assert http.get("/admin/").status_code == 200
    move_clock(seconds=15 * 60 + 1)  # AUTHSERVER_ADMIN_MAX_AGE, default 15 minutes
    response = http.get("/admin/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sign-in?return_to=admin")


def test_a_disabled_operator_cannot_enter(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    admin_operator.is_active = False
    db.session.commit()
    assert http.get("/admin/").status_code == 303


def test_a_console_form_without_its_csrf_token_changes_nothing(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    http = console(admin_operator)
    response = http.post(f"/admin/people/{person.id}/disable", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert b"CSRF" in response.data
    assert db.session.get(User, person.id).is_active


def test_an_admin_cannot_grant_a_platform_role(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    http = console(admin_operator)
    response = post(http, f"/admin/people/{person.id}/platform-role", {"role": "root"})
    assert response.status_code == 403
    assert db.session.get(User, person.id).platform_role is None
    assert b'name="role"' not in http.get(f"/admin/people/{person.id}").data


def test_root_grants_and_removes_a_platform_role_and_the_log_names_root(
    console: Callable[[User], FlaskClient], root: User, person: User
) -> None:
    http = console(root)
    assert (
        post(http, f"/admin/people/{person.id}/platform-role", {"role": "admin"}).status_code == 303
    )
    assert db.session.get(User, person.id).platform_role.role == "admin"
    assert (
        post(http, f"/admin/people/{person.id}/platform-role", {"role": "none"}).status_code == 303
    )
    db.session.expire_all()
    assert db.session.get(User, person.id).platform_role is None
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "user.platform_role_changed")
    ).all()
    assert sorted((e.actor_user_id, e.details["role"] or "none") for e in events) == [
        (root.id, "admin"),
        (root.id, "none"),
    ]


def test_the_last_root_cannot_be_demoted(
    console: Callable[[User], FlaskClient], root: User
) -> None:
    http = console(root)
    response = post(http, f"/admin/people/{root.id}/platform-role", {"role": "admin"})
    assert response.status_code == 409
    assert db.session.get(User, root.id).platform_role.role == "root"


def test_the_console_may_run_only_its_own_script_and_cannot_be_framed(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    policy = console(admin_operator).get("/admin/keys").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def _sign_in_as_operator(http: FlaskClient) -> object:
    from authserver.identity.passwords import hash_password
    from tests.admin.conftest import make_operator
    from tests.mfa.helpers import EMAIL, PASSWORD
    from tests.oauth_helpers import csrf_token_in

    operator = make_operator(
        "admin", with_factor=False, email=EMAIL, password_hash=hash_password(PASSWORD)
    )
    page = http.get("/sign-in?return_to=admin")
    response = http.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token_in(page.data),
            "email": EMAIL,
            "password": PASSWORD,
            "return_to": "admin",
        },
    )
    return operator, response


def test_the_sign_in_page_returns_an_operator_to_the_console_after_the_second_factor(
    app: Flask, http: FlaskClient
) -> None:
    from tests.mfa.helpers import add_totp, current_code, give_second_factor

    operator, _ = _sign_in_as_operator(http)
    app_totp = add_totp(operator)
    # The operator signs in again now that a factor exists: password, then the app's code.
    http.delete_cookie("authserver_session")
    _, response = _sign_in_as_operator_again(http)
    assert response.status_code == 303 and "/second-step" in response.headers["Location"]
    response = give_second_factor(http, code=current_code(app_totp))
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")
    assert http.get("/admin/").status_code == 200


def _sign_in_as_operator_again(http: FlaskClient) -> tuple[None, object]:
    from tests.mfa.helpers import EMAIL, PASSWORD
    from tests.oauth_helpers import csrf_token_in

    page = http.get("/sign-in?return_to=admin")
    form = {"csrf_token": csrf_token_in(page.data), "email": EMAIL, "password": PASSWORD}
    return None, http.post("/sign-in", data={**form, "return_to": "admin"})


def test_a_first_factor_set_up_in_a_password_session_does_not_open_the_console(
    app: Flask, http: FlaskClient
) -> None:
    """Setting up a factor upgrades the session for the person's apps, but whoever signed
    in with a stolen password could do that too: the console wants a sign-in that used a
    factor set up before it (security review)."""
    from tests.mfa.helpers import post_form

    _sign_in_as_operator(http)
    started = post_form(http, "/account/security", "/account/security/totp")
    assert started.status_code == 200
    secret = re.search(rb"data-totp-secret[^>]*>([A-Z2-7]+)<", started.data).group(1).decode()
    confirmed = post_form(
        http, "/account/security", "/account/security/totp/confirm", code=pyotp.TOTP(secret).now()
    )
    assert confirmed.status_code in (200, 303)
    session = db.session.scalar(select(Session))
    assert "mfa" in session.auth_methods  # the upgrade happened
    response = http.get("/admin/people")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sign-in?return_to=admin")


def test_an_operator_signed_in_with_a_password_alone_cannot_enter(
    app: Flask, http: FlaskClient
) -> None:
    """Rule 4: one stolen password must not open the console."""
    from tests.mfa.helpers import add_totp

    operator, response = _sign_in_as_operator(http)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/")
    # No factor yet: the operator is sent to set one up, never into the console.
    response = http.get("/admin/people")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/security")
    # With a factor set up elsewhere, a one-factor session must sign in again with it.
    add_totp(operator)
    response = http.get("/admin/people")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/sign-in?return_to=admin")


@pytest.mark.parametrize("action", ["disable", "sign-out"])
def test_an_admin_cannot_act_on_a_roots_account(
    console: Callable[[User], FlaskClient], admin_operator: User, root: User, action: str
) -> None:
    http = console(admin_operator)
    assert post(http, f"/admin/people/{root.id}/{action}").status_code == 403
    assert db.session.get(User, root.id).is_active


def test_a_root_may_disable_another_root(
    console: Callable[[User], FlaskClient], root: User
) -> None:
    from tests.admin.conftest import make_operator

    other = make_operator("root", email="second-root@example.com")
    assert post(console(root), f"/admin/people/{other.id}/disable").status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, other.id).is_active
