"""The people pages: search, a person's page, and an operator's actions, each audited with
the operator as actor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver import audit
from authserver.extensions import db
from authserver.models import (
    AuditEvent,
    Consent,
    GrantFamily,
    OAuthAccount,
    Session,
    User,
)
from tests.admin.conftest import post
from tests.factories import make_member, make_org, make_role, make_user
from tests.oauth_helpers import register_client, sign_in


def events_of(event_type: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("grace", ["grace@example.com"]),
        ("GRACE@EX", ["grace@example.com"]),
        ("hopper", []),  # names match from their start
        ("Grace H", ["grace@example.com"]),
        ("admin@", ["admin@example.com"]),
        ("%", []),  # a LIKE wildcard is a literal character here
        ("_", []),
        ("", ["admin@example.com", "grace@example.com"]),
    ],
)
def test_people_search_matches_the_start_of_email_or_name(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    person: User,
    query: str,
    found: list[str],
) -> None:
    page = console(admin_operator).get("/admin/people", query_string={"q": query})
    assert page.status_code == 200
    emails = ("admin@example.com", "grace@example.com")
    listed = [email for email in emails if f">{email}</a>".encode() in page.data]
    assert listed == found


def test_people_are_paged(console: Callable[[User], FlaskClient], admin_operator: User) -> None:
    for number in range(60):
        make_user(email=f"many-{number:02d}@example.com")
    db.session.commit()
    http = console(admin_operator)
    first = http.get("/admin/people?q=many")
    second = http.get("/admin/people?q=many&page=2")
    assert b"many-00@" in first.data and b"many-49@" in first.data and b"many-50@" not in first.data
    assert b'rel="next"' in first.data
    assert b"many-50@" in second.data and b"many-59@" in second.data
    assert b'rel="next"' not in second.data


def test_a_persons_page_shows_accounts_sessions_grants_orgs_and_events(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    db.session.add(OAuthAccount(user_id=person.id, provider="google", provider_subject="g-123"))
    make_member(make_org(name="Analytical Engines"), person, [make_role("billing", "admin")])
    client = register_client(name="Acme Reports")
    db.session.add(Consent(user_id=person.id, client_id=client.client.id, scopes=["email"]))
    audit.record("sign_in", actor_user_id=person.id, target_type="user", target_id=str(person.id))
    db.session.commit()
    sign_in(app, app.test_client(), person)

    page = console(admin_operator).get(f"/admin/people/{person.id}")
    assert page.status_code == 200
    for expected in (b"Grace Hopper", b"g-123", b"Acme Reports", b"Analytical Engines",
                     b"billing:admin", b"sign_in"):  # fmt: skip
        assert expected in page.data, expected


def test_disabling_a_person_ends_their_sessions_and_names_the_operator(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    sign_in(app, app.test_client(), person)
    http = console(admin_operator)
    assert post(http, f"/admin/people/{person.id}/disable").status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, person.id).is_active
    assert Session.all_of(person.id) == []
    [event] = events_of("user.disabled")
    assert event.actor_user_id == admin_operator.id and event.target_id == str(person.id)

    assert post(http, f"/admin/people/{person.id}/enable").status_code == 303
    db.session.expire_all()
    assert db.session.get(User, person.id).is_active
    assert events_of("user.enabled")[0].actor_user_id == admin_operator.id


def test_an_operator_cannot_disable_themself(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    assert post(http, f"/admin/people/{admin_operator.id}/disable").status_code == 409
    assert db.session.get(User, admin_operator.id).is_active


def test_signing_out_everywhere_ends_sessions_and_grants(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    sign_in(app, app.test_client(), person)
    sign_in(app, app.test_client(), person)
    http = console(admin_operator)
    assert post(http, f"/admin/people/{person.id}/sign-out").status_code == 303
    assert Session.all_of(person.id) == []
    [event] = events_of("user.signed_out")
    assert event.actor_user_id == admin_operator.id and event.details["sessions"] == 2


def test_ending_one_session_keeps_the_others(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    first = sign_in(app, app.test_client(), person)
    second = sign_in(app, app.test_client(), person)
    http = console(admin_operator)
    assert post(http, f"/admin/people/{person.id}/sessions/{first}/end").status_code == 303
    assert [s.id for s in Session.all_of(person.id)] == [second]
    assert events_of("user.session_ended")[0].actor_user_id == admin_operator.id


def test_a_session_of_someone_else_is_not_found_under_this_person(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    other = make_user()
    db.session.commit()
    theirs = sign_in(app, app.test_client(), other)
    http = console(admin_operator)
    assert post(http, f"/admin/people/{person.id}/sessions/{theirs}/end").status_code == 404
    assert db.session.get(Session, theirs) is not None


def test_revoking_a_clients_grants_revokes_families_and_forgets_consent(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    from datetime import timedelta

    from authserver.clock import utcnow

    client = register_client(name="Acme Reports")
    db.session.add(Consent(user_id=person.id, client_id=client.client.id, scopes=["email"]))
    now = utcnow()
    db.session.add(
        GrantFamily(
            client_id=client.client.id, user_id=person.id, scope="openid", auth_time=now,
            expires_at=now + timedelta(days=1),
        )
    )  # fmt: skip
    db.session.commit()
    http = console(admin_operator)
    page = http.get(f"/admin/people/{person.id}")
    assert b"Acme Reports" in page.data
    path = f"/admin/people/{person.id}/grants/{client.client_id}/revoke"
    assert post(http, path).status_code == 303
    assert GrantFamily.active_of(person.id) == []
    assert Consent.find(person.id, client.client.id) is None
    [event] = events_of("consent.revoked")
    assert (
        event.actor_user_id == admin_operator.id and event.details["client_id"] == client.client_id
    )
    assert post(http, path).status_code == 404  # nothing left to revoke


@pytest.mark.parametrize(
    "query_string",
    [
        {"page": "٣"},  # Arabic-Indic three: str.isdigit() says yes
        {"page": "²"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"q": "x" * 256},
        {"q": "\ufffd\ufffd"},
    ],
)
def test_bad_search_input_gets_a_friendly_page_never_a_500(
    console: Callable[[User], FlaskClient], admin_operator: User, query_string: dict[str, str]
) -> None:
    response = console(admin_operator).get("/admin/people", query_string=query_string)
    assert response.status_code in (200, 400)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    "raw_query",
    [b"q=%00", b"q=%ED%A0%80", b"q=%FF%FE", b"page=%D9%A3"],
    ids=["nul", "lone-surrogate", "not-utf8", "arabic-digit"],
)
def test_raw_bad_bytes_in_the_query_get_a_friendly_page(
    console: Callable[[User], FlaskClient], admin_operator: User, raw_query: bytes
) -> None:
    http = console(admin_operator)
    response = http.get("/admin/people?" + raw_query.decode("latin-1"))
    assert response.status_code in (200, 400)
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_person_is_a_404_page(
    console: Callable[[User], FlaskClient], admin_operator: User, user_id: str
) -> None:
    response = console(admin_operator).get(f"/admin/people/{user_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_an_operator_creates_a_person_with_a_local_password(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    from authserver.identity.passwords import verify_password

    http = console(admin_operator)
    form = {"email": "New@Example.com", "name": "New Person", "password": "a long password"}
    response = post(http, "/admin/people/new", form, page="/admin/people/new")
    assert response.status_code == 303
    user = User.find_by_email("new@example.com")
    assert verify_password(user.password_hash, "a long password") and user.platform_role is None
    [event] = events_of("user.created")
    assert event.actor_user_id == admin_operator.id and event.details["method"] == "admin"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"email": "not-an-email"}, b"not an email address"),
        ({"email": "admin@example.com"}, b"already has an account"),
        ({"password": "short"}, b"at least 10"),
        ({"password": "x" * 5000}, b"at most 1024"),
        ({"name": "\x07bell"}, b"printable"),
    ],
)
def test_a_bad_new_person_gets_the_form_again(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    over: dict[str, str],
    message: bytes,
) -> None:
    http = console(admin_operator)
    form = {"email": "new@example.com", "name": "New", "password": "a long password", **over}
    response = post(http, "/admin/people/new", form, page="/admin/people/new")
    assert response.status_code == 400 and message in response.data
    assert User.find_by_email("new@example.com") is None


def test_only_root_creates_an_operator(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = {"email": "op@example.com", "name": "Op", "password": "a long password",
            "platform_role": "root"}  # fmt: skip
    assert post(http, "/admin/people/new", form, page="/admin/people/new").status_code == 403
    assert User.find_by_email("op@example.com") is None
