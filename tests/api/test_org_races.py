"""Organization rules under concurrency (PostgreSQL row locks): the last owner stays, and a
lost race on a unique row is 409, never a 500. Each test fires real requests at once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import Invitation, OrganizationMember, Role, User
from authserver.models.orgs import member_roles
from authserver.orgs import service as orgs
from tests import concurrency
from tests.api.conftest import Person, join
from tests.api.test_invitations_api import verified

ROUNDS = 3  # a race lost only now and then must still show


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; these are PostgreSQL guarantees")


Call = tuple[str, str, str, Any]  # token, method, path, JSON body


def at_once(app: Flask, calls: list[Call | Callable[[], int]]) -> list[int]:
    """Run every call at the same moment, each as its own request; their status codes."""
    db.session.commit()  # nothing of ours stays open while they run
    not_problems: list[str] = []

    def run(call: Call | Callable[[], int]) -> int:
        if callable(call):
            return call()
        token, method, path, body = call
        response = app.test_client().open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code >= 400 and response.mimetype != "application/problem+json":
            not_problems.append(response.get_data(as_text=True))
        return response.status_code

    statuses = concurrency.at_once([functools.partial(run, call) for call in calls])
    db.session.expire_all()
    assert not not_problems
    return sorted(statuses)


def owners(org: dict) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(member_roles)
        .join(OrganizationMember, OrganizationMember.id == member_roles.c.member_id)
        .join(Role, Role.id == member_roles.c.role_id)
        .where(
            OrganizationMember.organization_id == org["id"],
            Role.service == "auth",
            Role.name == "owner",
        )
    )


def two_owner_org(app: Flask, first: Person, n: int) -> tuple[dict, Person, str, str]:
    org = first.call("POST", "", {"name": f"Duo {n}", "slug": f"duo-{n}"}).json
    second = Person(app, f"second-{n}@example.com")
    second_id = join(first, org, second, ["auth:owner"])
    first_id = next(
        m["id"] for m in first.call("GET", f"/{org['id']}/members").json if m["id"] != second_id
    )
    return org, second, first_id, second_id


def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    app: Flask, owner: Person, postgres_only: None
) -> None:
    for n in range(ROUNDS):
        org, second, first_id, second_id = two_owner_org(app, owner, n)
        base = f"/api/v1/orgs/{org['id']}/members"
        demote = {"roles": ["auth:admin"]}
        statuses = at_once(
            app,
            [
                (owner.token, "PUT", f"{base}/{second_id}/roles", demote),
                (second.token, "PUT", f"{base}/{first_id}/roles", demote),
            ],
        )
        assert statuses == [200, 409]
        assert owners(org) == 1


def test_two_owners_leaving_at_once_leave_one_owner(
    app: Flask, owner: Person, postgres_only: None
) -> None:
    for n in range(ROUNDS):
        org, second, first_id, second_id = two_owner_org(app, owner, n)
        base = f"/api/v1/orgs/{org['id']}/members"
        statuses = at_once(
            app,
            [
                (owner.token, "DELETE", f"{base}/{first_id}", None),
                (second.token, "DELETE", f"{base}/{second_id}", None),
            ],
        )
        assert statuses == [204, 409]
        assert owners(org) == 1


def test_creating_one_slug_at_once_makes_one_org_and_409s(
    app: Flask, owner: Person, postgres_only: None
) -> None:
    people = [owner] + [Person(app, f"founder-{n}@example.com") for n in range(3)]
    for n in range(ROUNDS):
        document = {"name": "Same", "slug": f"same-{n}"}
        statuses = at_once(app, [(p.token, "POST", "/api/v1/orgs", document) for p in people])
        assert statuses == [201, 409, 409, 409]


def test_removing_one_member_at_once_removes_it_once(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    admin = Person(app, "admin@example.com")
    join(owner, org, admin, ["auth:admin"])
    for n in range(ROUNDS):
        member_id = join(owner, org, Person(app, f"leaving-{n}@example.com"), [])
        path = f"/api/v1/orgs/{org['id']}/members/{member_id}"
        statuses = at_once(app, [(p.token, "DELETE", path, None) for p in (owner, admin) * 2])
        assert statuses == [204, 404, 404, 404]


def test_changing_one_members_roles_at_once_keeps_one_whole_answer(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    member_id = join(owner, org, Person(app, "member@example.com"), [])
    path = f"/api/v1/orgs/{org['id']}/members/{member_id}/roles"
    choices = [["auth:member"], ["auth:admin"], ["auth:member", "billing:viewer"], []]
    for _ in range(ROUNDS):
        calls = [(owner.token, "PUT", path, {"roles": roles}) for roles in choices]
        assert at_once(app, calls) == [200] * 4
        held = {m["id"]: m["roles"] for m in owner.call("GET", f"/{org['id']}/members").json}
        assert sorted(held[member_id]) in [sorted(c) for c in choices]


def test_inviting_one_address_at_once_gives_one_invitation_and_409s(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    path = f"/api/v1/orgs/{org['id']}/invitations"
    for n in range(ROUNDS):
        body = {"email": f"wanted-{n}@example.com", "roles": []}
        assert at_once(app, [(owner.token, "POST", path, body)] * 4) == [201, 409, 409, 409]


def test_accepting_while_an_operator_adds_the_person_makes_one_membership(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    invitee = verified(Person(app, "invitee@example.com"))
    invitation = owner.call(
        "POST", f"/{org['id']}/invitations", {"email": "invitee@example.com", "roles": []}
    ).json
    user_id = invitee.user.id

    def operator_adds() -> int:
        with app.app_context():
            organization = orgs.caller(db.session.get(User, owner.user.id), org["id"]).organization
            try:
                orgs.add_member(organization, db.session.get(User, user_id), [])
            except orgs.Conflict:
                db.session.rollback()
                return 409
            db.session.commit()
            return 201

    accept = (invitee.token, "POST", f"/api/v1/invitations/{invitation['id']}/accept", None)
    assert at_once(app, [accept, operator_adds]) in ([200, 409], [201, 409])
    memberships = select(func.count()).where(OrganizationMember.user_id == user_id)
    assert db.session.scalar(memberships) == 1


def test_revoking_while_the_invitee_accepts_lets_one_win(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    invitee = verified(Person(app, "invitee@example.com"))
    for _ in range(ROUNDS):
        invitation = owner.call(
            "POST", f"/{org['id']}/invitations", {"email": "invitee@example.com", "roles": []}
        ).json
        accept = f"/api/v1/invitations/{invitation['id']}/accept"
        revoke = f"/api/v1/orgs/{org['id']}/invitations/{invitation['id']}"
        statuses = at_once(
            app, [(invitee.token, "POST", accept, None), (owner.token, "DELETE", revoke, None)]
        )
        state = db.session.get(Invitation, invitation["id"]).state
        joined = db.session.scalar(
            select(func.count()).where(OrganizationMember.user_id == invitee.user.id)
        )
        assert (statuses, state, joined) in (
            ([200, 409], "accepted", 1),
            ([204, 409], "revoked", 0),
        )
        if joined:
            member = next(
                m["id"]
                for m in owner.call("GET", f"/{org['id']}/members").json
                if m["email"] == "invitee@example.com"
            )
            assert owner.call("DELETE", f"/{org['id']}/members/{member}").status_code == 204


def test_deleting_one_org_at_once_deletes_it_once(
    app: Flask, owner: Person, postgres_only: None
) -> None:
    for n in range(ROUNDS):
        org, second, _, _ = two_owner_org(app, owner, n)
        path = f"/api/v1/orgs/{org['id']}"
        rename = {"name": "Renamed"}
        calls = [(p.token, "DELETE", path, None) for p in (owner, second)]
        calls += [(p.token, "PATCH", path, rename) for p in (owner, second)]
        statuses = at_once(app, calls)
        assert statuses.count(204) == 1 and set(statuses) <= {200, 204, 404}
