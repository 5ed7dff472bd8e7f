"""Invitation mail: creating an invitation mails its link; the link leads an existing person
to sign in and accept, a new person to sign up and accept, and refuses another address."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent, OrganizationMember, OutboxMessage, Session, User
from tests.api.conftest import Person
from tests.api.test_invitations_api import invite
from tests.mail.helpers import PASSWORD, make_local_person, submit
from tests.oauth_helpers import csrf_token_in, sign_in
from tests.smtp import Mailbox, link_in


def member_ids(org: dict) -> set:
    rows = db.session.query(OrganizationMember).filter_by(organization_id=uuid.UUID(org["id"]))
    return {row.user_id for row in rows.all()}


@pytest.fixture
def invited_link(owner: Person, org: dict, mailbox: Mailbox, deliver: Callable) -> str:
    response = invite(owner, org, "new@example.com")
    assert response.status_code == 201, response.json
    deliver()
    message = mailbox.only("new@example.com")
    assert "invited you to join Acme" in message["Subject"]
    return link_in(message)


def test_creating_an_invitation_mails_its_link(invited_link: str) -> None:
    assert invited_link.startswith("/invitations/")


def test_a_refused_invitation_mails_nothing(owner: Person, org: dict) -> None:
    assert invite(owner, org, "not an address").status_code == 422
    assert db.session.query(OutboxMessage).count() == 0


def test_an_existing_person_signs_in_from_the_link_and_accepts(
    app: Flask, invited_link: str, org: dict
) -> None:
    person = make_local_person("new@example.com")
    browser = app.test_client()
    landing = browser.get(invited_link)
    assert landing.status_code == 200 and b"return_to=invitation" in landing.data

    signed_in = submit(browser, "/sign-in?return_to=invitation",
                       {"email": "new@example.com", "password": PASSWORD,
                        "return_to": "invitation"})  # fmt: skip
    assert signed_in.headers["Location"] == "/invitations/continue"
    back = browser.get("/invitations/continue")
    assert back.headers["Location"] == invited_link

    page = browser.get(invited_link)
    accepted = browser.post(f"{invited_link}/accept",
                            data={"csrf_token": csrf_token_in(page.data)})  # fmt: skip

    assert accepted.status_code == 303
    assert person.id in member_ids(org)
    db.session.expire_all()
    assert db.session.get(User, person.id).email_verified is True  # the link reached it


def test_a_new_person_signs_up_with_the_invited_address_and_accepts(
    app: Flask, invited_link: str, org: dict
) -> None:
    browser = app.test_client()
    browser.get(invited_link)

    form = browser.get("/sign-up")  # open through the invitation, though sign-up is off
    assert form.status_code == 200 and b'value="new@example.com" disabled' in form.data
    made = browser.post("/sign-up", data={
        "csrf_token": csrf_token_in(form.data), "name": "Newcomer", "password": PASSWORD,
        "email": "someone-else@example.com",  # ignored: the invited address is used
    })  # fmt: skip

    assert made.headers["Location"] == "/invitations/continue"
    newcomer = User.find_by_email("new@example.com")
    assert newcomer.email_verified and User.find_by_email("someone-else@example.com") is None
    page = browser.get(invited_link)
    browser.post(f"{invited_link}/accept", data={"csrf_token": csrf_token_in(page.data)})
    assert newcomer.id in member_ids(org)


def session_ends() -> list[tuple[uuid.UUID | None, object]]:
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "session.ended"))
    return [(event.actor_user_id, event.details.get("reason")) for event in events]


def test_signing_up_from_the_link_while_another_person_is_signed_in_ends_their_session(
    app: Flask, invited_link: str, org: dict
) -> None:
    """The account is new, so whoever was signed in in this browser is someone else:
    their session ends as when another person signs in here (`new_sign_in`)."""
    other = make_local_person("other@example.com", email_verified=True)
    browser = app.test_client()
    other_session = sign_in(app, browser, other)
    assert browser.get(invited_link).status_code == 403  # refused, but the link is kept

    form = browser.get("/sign-up")
    made = browser.post("/sign-up", data={
        "csrf_token": csrf_token_in(form.data), "name": "Newcomer", "password": PASSWORD,
    })  # fmt: skip

    assert made.headers["Location"] == "/invitations/continue"
    newcomer = User.find_by_email("new@example.com")
    assert session_ends() == [(other.id, "new_sign_in")]
    assert db.session.get(Session, other_session) is None
    assert Session.all_of(other.id) == [] and len(Session.all_of(newcomer.id)) == 1
    assert browser.get(invited_link).status_code == 200  # now as the newcomer


def test_signing_up_from_the_link_as_the_signed_in_account_keeps_its_session(
    app: Flask, invited_link: str, org: dict
) -> None:
    """The invited address has an account and it is the one signed in: sign-up makes
    nothing (the page says a mail went out, as for any taken address) and ends nothing."""
    person = make_local_person("new@example.com")
    browser = app.test_client()
    session_id = sign_in(app, browser, person)
    assert browser.get(invited_link).status_code == 200

    form = browser.get("/sign-up")
    answered = browser.post("/sign-up", data={
        "csrf_token": csrf_token_in(form.data), "name": "Again", "password": PASSWORD,
    })  # fmt: skip

    assert answered.status_code == 200
    assert session_ends() == []
    assert db.session.get(Session, session_id) is not None
    assert browser.get(invited_link).status_code == 200  # still signed in, may accept


def test_a_person_signed_in_with_another_address_is_refused(
    app: Flask, http: FlaskClient, invited_link: str, org: dict
) -> None:
    other = make_local_person("other@example.com", email_verified=True)
    sign_in(app, http, other)

    page = http.get(invited_link)

    assert page.status_code == 403 and b"This invitation is for another address" in page.data
    assert b"new@example.com" in page.data
    token = csrf_token_in(http.get("/account").data)
    response = http.post(f"{invited_link}/accept", data={"csrf_token": token})
    assert response.status_code == 403 and other.id not in member_ids(org)


def test_a_revoked_invitations_link_is_a_clear_page(
    http: FlaskClient, owner: Person, org: dict, invited_link: str
) -> None:
    invitation_id = owner.call("GET", f"/{org['id']}/invitations").json[0]["id"]
    owner.call("DELETE", f"/{org['id']}/invitations/{invitation_id}")

    page = http.get(invited_link)

    assert page.status_code == 410 and b"This invitation was withdrawn" in page.data


@pytest.mark.parametrize("token", ["nope", "z" * 3000])
def test_an_unknown_invitation_link_is_a_clear_page(http: FlaskClient, token: str) -> None:
    assert http.get(f"/invitations/{token}").status_code == 404


def test_declining_from_the_link_makes_no_member(
    app: Flask, http: FlaskClient, invited_link: str, org: dict
) -> None:
    person = make_local_person("new@example.com")
    sign_in(app, http, person)
    page = http.get(invited_link)
    http.post(f"{invited_link}/decline", data={"csrf_token": csrf_token_in(page.data)})
    assert person.id not in member_ids(org)


def test_production_without_smtp_still_creates_the_invitation(
    owner: Person, org: dict, settings_with: Callable
) -> None:
    settings_with(env="production", smtp=None)
    assert invite(owner, org, "new@example.com").status_code == 201
    assert db.session.query(OutboxMessage).count() == 0


def test_sending_again_mails_a_new_link_and_the_old_one_stops(
    app: Flask, owner: Person, org: dict, invited_link: str, mailbox: Mailbox, deliver: Callable
) -> None:
    invitation_id = owner.call("GET", f"/{org['id']}/invitations").json[0]["id"]

    resent = owner.call("POST", f"/{org['id']}/invitations/{invitation_id}/resend")

    assert resent.status_code == 200 and resent.json["state"] == "pending"
    deliver()
    new_link = link_in(mailbox.to("new@example.com")[-1])
    assert "token" not in resent.json  # the new link goes by mail only
    assert new_link != invited_link
    assert app.test_client().get(invited_link).status_code == 404
    assert app.test_client().get(new_link).status_code == 200


def test_a_revoked_invitation_is_not_sent_again(
    owner: Person, org: dict, invited_link: str
) -> None:
    invitation_id = owner.call("GET", f"/{org['id']}/invitations").json[0]["id"]
    owner.call("DELETE", f"/{org['id']}/invitations/{invitation_id}")
    assert owner.call("POST", f"/{org['id']}/invitations/{invitation_id}/resend").status_code == 409


def test_sending_again_is_limited_per_address(owner: Person, org: dict, invited_link: str) -> None:
    invitation_id = owner.call("GET", f"/{org['id']}/invitations").json[0]["id"]
    statuses = [
        owner.call("POST", f"/{org['id']}/invitations/{invitation_id}/resend").status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [409]
