"""/api/v1/orgs: every route with an allowed and a refused caller, as problem+json."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import refresh
from sqlalchemy import select, update

from authserver.extensions import db
from authserver.models import AuditEvent, Organization, User
from tests.api.conftest import Person, assert_problem, join
from tests.factories import make_user


def test_creating_an_org_makes_the_creator_its_owner(owner: Person, org: dict) -> None:
    mine = owner.call("GET", "").json
    assert [(o["slug"], o["roles"]) for o in mine] == [("acme", ["auth:owner"])]
    assert owner.call("GET", f"/{org['id']}").json["name"] == "Acme"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "org.created"))


@pytest.mark.parametrize(
    ("document", "status", "field"),
    [
        ({"name": "Other", "slug": "acme"}, 409, "slug"),
        ({"name": "Other", "slug": "Not A Slug"}, 422, "slug"),
        ({"name": "", "slug": "fine-slug"}, 422, "name"),
        ({"name": "x" * 101, "slug": "fine-slug"}, 422, "name"),
        ({"name": "Bad\x07", "slug": "fine-slug"}, 422, "name"),
    ],
    ids=["taken-slug", "bad-slug", "empty-name", "long-name", "control-char"],
)
def test_a_bad_new_org_is_refused_naming_the_field(
    owner: Person, org: dict, document: dict, status: int, field: str
) -> None:
    response = owner.call("POST", "", document)
    assert_problem(response, status)
    assert response.json["field"] == field


def test_problem_details_stay_english_whatever_the_accept_language(
    owner: Person, org: dict
) -> None:
    """The rules' messages are translated for the account pages; the API's details are
    for developers and logs, and stay as they were."""
    refresh()  # the test's requests share one g: forget the language the earlier ones chose
    response = owner.http.post(
        "/api/v1/orgs",
        json={"name": "Other", "slug": "acme"},
        headers={"Authorization": f"Bearer {owner.token}", "Accept-Language": "de"},
    )
    assert_problem(response, 409)
    assert response.json["detail"] == "The slug acme is taken."


def test_a_non_member_gets_404_not_403(app: Flask, owner: Person, org: dict) -> None:
    stranger = Person(app, "stranger@example.com")
    for method, path in (("GET", ""), ("GET", "/members"), ("PATCH", ""), ("DELETE", "")):
        assert_problem(stranger.call(method, f"/{org['id']}{path}", {"name": "x"}), 404)
    assert_problem(owner.call("GET", "/not-an-id"), 404)


def test_renaming_and_deleting_are_for_owners(app: Flask, owner: Person, org: dict) -> None:
    admin = Person(app, "admin@example.com")
    join(owner, org, admin, ["auth:admin"])
    assert_problem(admin.call("PATCH", f"/{org['id']}", {"name": "Mine now"}), 403)
    assert_problem(admin.call("DELETE", f"/{org['id']}"), 403)
    assert owner.call("PATCH", f"/{org['id']}", {"name": "Acme Inc"}).json["name"] == "Acme Inc"
    assert owner.call("DELETE", f"/{org['id']}").status_code == 204
    assert db.session.scalar(select(Organization)) is None


def test_admins_manage_members_with_declared_roles_only(
    app: Flask, owner: Person, org: dict
) -> None:
    admin, new = Person(app, "admin@example.com"), Person(app, "new@example.com")
    join(owner, org, admin, ["auth:admin"])
    added = join(admin, org, new, ["billing:viewer"])
    roles = f"/{org['id']}/members/{added}/roles"
    undeclared = admin.call("PUT", roles, {"roles": ["billing:god"]})
    assert_problem(undeclared, 422)
    assert undeclared.json["field"] == "roles/0"
    assert_problem(admin.call("PUT", roles, {"roles": ["auth:owner"]}), 403)  # owners make owners
    members = {m["email"]: m["roles"] for m in admin.call("GET", f"/{org['id']}/members").json}
    assert members == {
        "owner@example.com": ["auth:owner"],
        "admin@example.com": ["auth:admin"],
        "new@example.com": ["billing:viewer"],
    }


def test_a_plain_member_cannot_manage_members(app: Flask, owner: Person, org: dict) -> None:
    member, other = Person(app, "member@example.com"), Person(app, "other@example.com")
    join(owner, org, member, ["auth:member"])
    other_id = join(owner, org, other, [])
    assert member.call("GET", f"/{org['id']}/members").status_code == 200
    assert_problem(member.call("DELETE", f"/{org['id']}/members/{other_id}"), 403)
    assert_problem(member.call("PUT", f"/{org['id']}/members/{other_id}/roles", {"roles": []}), 403)


# ---- joining needs the person's agreement; adding by email enumerates nothing -------------


@pytest.mark.parametrize("account", ["active", "disabled", "none"])
def test_nobody_is_added_to_an_org_by_email(
    app: Flask, owner: Person, org: dict, account: str
) -> None:
    if account != "none":
        make_user(email="target@example.com", display_name="Target Person")
        db.session.execute(
            update(User)
            .where(User.email == "target@example.com")
            .values(is_active=account == "active")
        )
        db.session.commit()
    response = owner.call(
        "POST", f"/{org['id']}/members", {"email": "target@example.com", "roles": []}
    )
    assert_problem(response, 405)
    assert "Target" not in response.get_data(as_text=True)
    emails = {m["email"] for m in owner.call("GET", f"/{org['id']}/members").json}
    assert emails == {"owner@example.com"}


def test_an_invitation_says_the_same_whether_or_not_the_address_has_an_account(
    app: Flask, owner: Person, org: dict
) -> None:
    make_user(email="known@example.com", display_name="Known Person")
    disabled = make_user(email="disabled@example.com", display_name="Off Person")
    disabled.is_active = False
    db.session.commit()
    answers = [
        owner.call("POST", f"/{org['id']}/invitations", {"email": email, "roles": []})
        for email in ("known@example.com", "disabled@example.com", "nobody@example.com")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({frozenset(a.json) for a in answers}) == 1  # the same fields for all three
    assert not any("Person" in a.get_data(as_text=True) for a in answers)


def test_the_last_owner_can_neither_leave_nor_be_demoted(owner: Person, org: dict) -> None:
    me = owner.call("GET", f"/{org['id']}/members").json[0]["id"]
    assert_problem(owner.call("DELETE", f"/{org['id']}/members/{me}"), 409)
    assert_problem(
        owner.call("PUT", f"/{org['id']}/members/{me}/roles", {"roles": ["auth:admin"]}), 409
    )


def test_with_a_second_owner_an_owner_may_leave(app: Flask, owner: Person, org: dict) -> None:
    second = Person(app, "second@example.com")
    join(owner, org, second, ["auth:owner"])
    me = next(
        m["id"]
        for m in owner.call("GET", f"/{org['id']}/members").json
        if m["email"] == "owner@example.com"
    )
    assert owner.call("DELETE", f"/{org['id']}/members/{me}").status_code == 204
    assert_problem(owner.call("GET", f"/{org['id']}"), 404)


def test_a_member_may_leave_on_their_own(app: Flask, owner: Person, org: dict) -> None:
    member = Person(app, "member@example.com")
    member_id = join(owner, org, member, [])
    assert member.call("DELETE", f"/{org['id']}/members/{member_id}").status_code == 204
    events = db.session.scalars(select(AuditEvent.event_type)).all()
    assert "invitation.accepted" in events and "member.removed" in events


def test_the_api_needs_a_token_with_the_orgs_scope(
    app: Flask, http: FlaskClient, api: None
) -> None:
    # Audiences, write scopes and subject kinds: tests/api/test_api_boundary.py.
    assert_problem(http.get("/api/v1/orgs"), 401)
    without_scope = Person(app, "noscope@example.com", scope="openid")
    assert_problem(without_scope.call("GET", ""), 403)


def test_a_body_that_is_not_a_json_object_is_415(owner: Person) -> None:
    response = owner.http.post(
        "/api/v1/orgs", data="name=x", headers={"Authorization": f"Bearer {owner.token}"}
    )
    assert_problem(response, 415)


def test_users_are_never_deleted_with_an_org(owner: Person, org: dict) -> None:
    owner.call("DELETE", f"/{org['id']}")
    assert db.session.scalar(select(User).where(User.email == "owner@example.com"))
