"""Invitations: create, list, revoke (admins), accept or decline (the invitee), expiry, and
one pending invitation per organization and email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import Invitation
from authserver.models.users import User
from tests.api.conftest import Person, assert_problem, join
from tests.oauth_helpers import csrf_token_in


def invite(by: Person, org: dict, email: str, roles: list[str] | None = None, **extra):  # noqa: ANN003, ANN201
    return by.call(
        "POST",
        f"/{org['id']}/invitations",
        {"email": email, "roles": roles or ["billing:viewer"], **extra},
    )


def verified(person: Person) -> Person:
    person.user.email_verified = True
    db.session.commit()
    return person


def answer(person: Person, invitation_id: str, verb: str):  # noqa: ANN201
    return person.http.post(
        f"/api/v1/invitations/{invitation_id}/{verb}",
        headers={"Authorization": f"Bearer {person.token}"},
    )


def test_the_invitation_lifecycle_ends_in_a_membership_with_the_roles(
    app: Flask,
    owner: Person,
    org: dict,
) -> None:
    created = invite(owner, org, "Invitee@Example.com")
    assert created.status_code == 201, created.json
    assert created.json["email"] == "invitee@example.com"
    # The link proves the invitee's mailbox: it goes by mail only, never to the inviter.
    assert "token" not in created.json
    assert db.session.scalar(select(Invitation)).token_hash

    invitee = verified(Person(app, "invitee@example.com"))
    mine = invitee.http.get(
        "/api/v1/invitations", headers={"Authorization": f"Bearer {invitee.token}"}
    ).json
    assert [i["id"] for i in mine] == [created.json["id"]]

    accepted = answer(invitee, created.json["id"], "accept")
    assert accepted.status_code == 200 and accepted.json["state"] == "accepted"
    members = {m["email"]: m["roles"] for m in owner.call("GET", f"/{org['id']}/members").json}
    assert members["invitee@example.com"] == ["billing:viewer"]
    assert_problem(answer(invitee, created.json["id"], "accept"), 409)


def test_one_pending_invitation_per_org_and_email(owner: Person, org: dict) -> None:
    assert invite(owner, org, "dup@example.com").status_code == 201
    assert_problem(invite(owner, org, "DUP@example.com"), 409)


def test_an_expired_invitation_cannot_be_accepted_and_frees_the_address(
    app: Flask,
    owner: Person,
    org: dict,
    move_clock,  # noqa: ANN001
) -> None:
    created = invite(owner, org, "late@example.com", expires_in=3600).json
    invitee = verified(Person(app, "late@example.com"))
    stored = db.session.scalar(select(Invitation))
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused = answer(invitee, created["id"], "accept")
    assert_problem(refused, 409)
    assert refused.json["state"] == "expired"
    assert db.session.scalar(select(Invitation)).state == "expired"
    assert invite(owner, org, "late@example.com").status_code == 201


def test_declining_leaves_no_membership(app: Flask, owner: Person, org: dict) -> None:
    created = invite(owner, org, "no@example.com").json
    invitee = verified(Person(app, "no@example.com"))
    assert answer(invitee, created["id"], "decline").json["state"] == "declined"
    emails = {m["email"] for m in owner.call("GET", f"/{org['id']}/members").json}
    assert "no@example.com" not in emails


def test_only_the_verified_invitee_may_answer(app: Flask, owner: Person, org: dict) -> None:
    created = invite(owner, org, "target@example.com").json
    stranger = verified(Person(app, "stranger@example.com"))
    assert_problem(answer(stranger, created["id"], "accept"), 404)
    unverified = Person(app, "target@example.com")  # same address, not verified
    assert_problem(answer(unverified, created["id"], "accept"), 404)
    assert db.session.scalar(select(Invitation)).state == "pending"


def test_admins_list_and_revoke_and_members_cannot(app: Flask, owner: Person, org: dict) -> None:
    member = Person(app, "member@example.com")
    join(owner, org, member, [])
    created = invite(owner, org, "soon@example.com").json
    assert_problem(member.call("GET", f"/{org['id']}/invitations"), 403)
    assert_problem(invite(member, org, "x@example.com"), 403)
    assert_problem(member.call("DELETE", f"/{org['id']}/invitations/{created['id']}"), 403)
    states = [i["state"] for i in owner.call("GET", f"/{org['id']}/invitations").json]
    assert states == ["pending", "accepted"]
    assert owner.call("DELETE", f"/{org['id']}/invitations/{created['id']}").status_code == 204
    assert_problem(owner.call("DELETE", f"/{org['id']}/invitations/{created['id']}"), 409)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"email": "not-an-email", "roles": []}, "email"),
        ({"email": "a@b", "roles": []}, "email"),
        ({"email": "ok@example.com", "roles": ["billing:nope"]}, "roles/0"),
        ({"email": "ok@example.com", "roles": "admin"}, "roles"),
        ({"email": "ok@example.com", "roles": [], "expires_in": 5}, "expires_in"),
    ],
    ids=["malformed", "no-tld", "undeclared-role", "roles-not-list", "too-short"],
)
def test_a_bad_invitation_is_422_naming_the_field_and_writes_nothing(
    owner: Person,
    org: dict,
    document: dict,
    field: str,
) -> None:
    response = owner.call("POST", f"/{org['id']}/invitations", document)
    assert_problem(response, 422)
    assert response.json["field"] == field
    assert db.session.scalar(select(Invitation)) is None


def test_the_account_page_accepts_an_invitation(app: Flask, owner: Person, org: dict) -> None:
    created = invite(owner, org, "page@example.com").json
    invitee = verified(Person(app, "page@example.com"))
    page = invitee.http.get("/account")
    assert b"Acme" in page.data and b"Accept" in page.data
    response = invitee.http.post(
        f"/account/invitations/{created['id']}/accept",
        data={"csrf_token": csrf_token_in(page.data)},
    )
    assert response.status_code == 303
    assert db.session.scalar(select(Invitation)).state == "accepted"
    assert db.session.scalar(select(User).where(User.email == "page@example.com"))
