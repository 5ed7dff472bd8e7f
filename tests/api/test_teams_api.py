"""/api/v1/orgs/<id>/teams: teams, their roles and members, as problem+json; team roles
reach the members' tokens; invitations join teams; deleting a team takes its grants."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import AuditEvent, Team
from authserver.models.teams import team_roles
from tests.api.conftest import Person, assert_problem, join
from tests.api.test_org_races import at_once
from tests.factories import make_permission, make_role
from tests.oauth_helpers import verify_as_resource_server


@pytest.fixture
def member(app: Flask, owner: Person, org: dict) -> tuple[Person, str]:
    person = Person(app, "member@example.com")
    return person, join(owner, org, person, ["auth:member"])


def create_team(owner: Person, org: dict, **over: object) -> dict:
    document = {"name": "Support", "slug": "support", "roles": ["billing:viewer"], **over}
    response = owner.call("POST", f"/{org['id']}/teams", document)
    assert response.status_code == 201, response.json
    return response.json


def claims(person: Person, **params: str) -> dict:
    """The claims of a token for the billing service (RFC 8707: only billing's roles), as
    billing verifies it; the person's API token is taken again afterwards."""
    person.authorize("openid orgs", resource="billing", **params)
    found = verify_as_resource_server(person.http, person.token, "billing").claims
    person.authorize("openid orgs orgs:write")
    return found


def test_a_team_member_inherits_the_team_roles_in_the_orgs_claim(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    added = owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")
    assert added.status_code == 200 and added.json["member_ids"] == [member_id]

    listed = claims(person)["orgs"]

    assert listed == [
        {
            "id": org["id"],
            "slug": "acme",
            "roles": ["billing:viewer"],
            "teams": ["support"],
        }
    ]


def test_an_org_scoped_token_carries_team_roles_permissions_and_slugs(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    role = make_role("billing", "clerk", permissions=[make_permission("billing", "invoice", "pay")])
    db.session.commit()
    team = create_team(owner, org, roles=[role.qualified_name])
    owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")

    scoped = claims(person, organization="acme")

    assert scoped["roles"] == ["billing:clerk"]
    assert "billing:invoice:pay" in scoped["permissions"]
    assert scoped["teams"] == ["support"]


def test_a_person_in_no_team_has_no_teams_claim(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    create_team(owner, org)
    assert "teams" not in claims(member[0])["orgs"][0]


@pytest.mark.parametrize(
    ("document", "status", "field"),
    [
        ({"slug": "support"}, 422, "name"),
        ({"name": "Support", "slug": "Not A Slug"}, 422, "slug"),
        ({"name": "Support", "slug": "support", "colour": "red"}, 422, "colour"),
        ({"name": 5, "slug": "support"}, 422, "name"),
        ({"name": "Bad\x07", "slug": "support"}, 422, "name"),
        ({"name": "Support", "slug": "support", "roles": "billing:viewer"}, 422, "roles"),
        ({"name": "Support", "slug": "support", "roles": ["billing:god"]}, 422, "roles/0"),
        ({"name": "Support", "slug": "support", "roles": ["auth:admin"]}, 422, "roles/0"),
        ({"name": "Support", "slug": "support", "description": "x" * 1001}, 422, "description"),
    ],
    ids=[
        "no-name",
        "bad-slug",
        "unknown-field",
        "number-name",
        "control-char",
        "roles-not-list",
        "undeclared-role",
        "auth-role",
        "long-description",
    ],
)
def test_a_bad_new_team_is_refused_naming_the_field(
    owner: Person, org: dict, document: dict, status: int, field: str
) -> None:
    response = owner.call("POST", f"/{org['id']}/teams", document)
    assert_problem(response, status)
    assert response.json["field"] == field
    assert db.session.scalar(select(func.count()).select_from(Team)) == 0


def test_a_body_that_is_not_a_json_object_is_415(owner: Person, org: dict) -> None:
    assert_problem(owner.call("POST", f"/{org['id']}/teams", ["a", "list"]), 415)


@pytest.mark.parametrize("taken", ["name", "slug"])
def test_a_name_or_slug_taken_in_the_org_is_409(owner: Person, org: dict, taken: str) -> None:
    create_team(owner, org)
    other = {"name": "Other", "slug": "other", taken: {"name": "Support", "slug": "support"}[taken]}
    assert_problem(owner.call("POST", f"/{org['id']}/teams", other), 409)


def test_the_same_slug_may_be_used_in_another_org(owner: Person, org: dict) -> None:
    create_team(owner, org)
    other = owner.call("POST", "", {"name": "Other", "slug": "other"}).json
    assert create_team(owner, other)["slug"] == "support"


def test_renaming_and_changing_roles_keeps_what_was_not_sent(owner: Person, org: dict) -> None:
    team = create_team(owner, org, description="First line")
    path = f"/{org['id']}/teams/{team['id']}"
    renamed = owner.call("PATCH", path, {"name": "Helpdesk"}).json
    assert (renamed["name"], renamed["description"], renamed["roles"]) == (
        "Helpdesk",
        "First line",
        ["billing:viewer"],
    )
    emptied = owner.call("PATCH", path, {"roles": []}).json
    assert emptied["roles"] == [] and emptied["name"] == "Helpdesk"
    assert owner.call("GET", path).json == emptied


def test_a_plain_member_reads_teams_but_cannot_manage_them(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    assert [t["slug"] for t in person.call("GET", f"/{org['id']}/teams").json] == ["support"]
    assert_problem(person.call("POST", f"/{org['id']}/teams", {"name": "X", "slug": "xyz"}), 403)
    assert_problem(person.call("PATCH", f"/{org['id']}/teams/{team['id']}", {"name": "X"}), 403)
    assert_problem(person.call("DELETE", f"/{org['id']}/teams/{team['id']}"), 403)
    joined = f"/{org['id']}/teams/{team['id']}/members/{member_id}"
    assert_problem(person.call("PUT", joined), 403)


def test_a_member_may_leave_a_team_but_not_take_others_out(
    app: Flask, owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    other = Person(app, "other@example.com")
    other_id = join(owner, org, other, ["auth:member"])
    team = create_team(owner, org)
    base = f"/{org['id']}/teams/{team['id']}/members"
    for joining in (member_id, other_id):
        owner.call("PUT", f"{base}/{joining}")
    assert_problem(owner.call("PUT", f"{base}/{member_id}"), 409)  # already in
    assert_problem(person.call("DELETE", f"{base}/{other_id}"), 403)
    assert person.call("DELETE", f"{base}/{member_id}").status_code == 204
    assert_problem(person.call("DELETE", f"{base}/{member_id}"), 404)  # no longer in
    assert "teams" not in claims(person)["orgs"][0]


def test_deleting_a_team_removes_its_role_grants(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")

    assert owner.call("DELETE", f"/{org['id']}/teams/{team['id']}").status_code == 204

    assert db.session.scalar(select(func.count()).select_from(team_roles)) == 0
    assert claims(person)["orgs"][0]["roles"] == []
    events = db.session.scalars(
        select(AuditEvent.event_type).where(AuditEvent.event_type.like("team.%"))
    ).all()
    assert sorted(events) == ["team.created", "team.deleted", "team.member_added"]


def test_teams_of_another_org_are_not_found(app: Flask, owner: Person, org: dict) -> None:
    team = create_team(owner, org)
    stranger = Person(app, "stranger@example.com")
    theirs = stranger.call("POST", "", {"name": "Theirs", "slug": "theirs"}).json
    assert_problem(stranger.call("GET", f"/{org['id']}/teams"), 404)
    assert_problem(stranger.call("GET", f"/{theirs['id']}/teams/{team['id']}"), 404)
    assert_problem(stranger.call("DELETE", f"/{theirs['id']}/teams/{team['id']}"), 404)
    assert_problem(owner.call("GET", f"/{org['id']}/teams/not-an-id"), 404)


def test_an_invitation_naming_teams_joins_them_on_acceptance(
    app: Flask, owner: Person, org: dict
) -> None:
    team = create_team(owner, org)
    invitee = Person(app, "invitee@example.com")
    invitee.user.email_verified = True
    db.session.commit()
    invited = owner.call(
        "POST",
        f"/{org['id']}/invitations",
        {"email": "invitee@example.com", "roles": [], "teams": [team["id"]]},
    )
    assert invited.status_code == 201 and invited.json["teams"] == [team["id"]]

    accepted = invitee.http.post(
        f"/api/v1/invitations/{invited.json['id']}/accept",
        headers={"Authorization": f"Bearer {invitee.token}"},
    )

    assert accepted.status_code == 200, accepted.json
    assert claims(invitee)["orgs"][0]["teams"] == ["support"]
    assert claims(invitee)["orgs"][0]["roles"] == ["billing:viewer"]


@pytest.mark.parametrize(
    "teams", [["not-an-id"], "support", ["00000000-0000-0000-0000-000000000000"]]
)
def test_an_invitation_naming_an_unknown_team_is_422(
    owner: Person, org: dict, teams: object
) -> None:
    response = owner.call(
        "POST", f"/{org['id']}/invitations", {"email": "x@example.com", "teams": teams}
    )
    assert_problem(response, 422)
    assert response.json["field"].startswith("teams")


def test_an_invitation_cannot_name_another_orgs_team(owner: Person, org: dict) -> None:
    other = owner.call("POST", "", {"name": "Other", "slug": "other"}).json
    elsewhere = create_team(owner, other)
    response = owner.call(
        "POST", f"/{org['id']}/invitations", {"email": "x@example.com", "teams": [elsewhere["id"]]}
    )
    assert_problem(response, 422)


def test_members_list_shows_their_teams(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")
    listed = {m["email"]: m["teams"] for m in owner.call("GET", f"/{org['id']}/members").json}
    assert listed == {"owner@example.com": [], "member@example.com": ["support"]}
    assert person.call("GET", "").json[0]["teams"] == ["support"]


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; this is a PostgreSQL guarantee")


def test_creating_one_team_slug_at_once_makes_one_team_and_409s(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    path = f"/api/v1/orgs/{org['id']}/teams"
    for n in range(3):
        document = {"name": f"Same {n}", "slug": f"same-{n}"}
        statuses = at_once(app, [(owner.token, "POST", path, document) for _ in range(3)])
        assert statuses == [201, 409, 409]


def test_leaving_the_org_leaves_its_teams_and_deleting_the_org_deletes_them(
    owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")

    assert person.call("DELETE", f"/{org['id']}/members/{member_id}").status_code == 204
    assert owner.call("GET", f"/{org['id']}/teams/{team['id']}").json["member_ids"] == []
    assert owner.call("DELETE", f"/{org['id']}").status_code == 204
    assert db.session.scalar(select(func.count()).select_from(Team)) == 0


MULTI_FACTOR = ("pwd", "otp", "mfa")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "/teams", None),
        ("POST", "/teams", {"name": "Ops", "slug": "ops"}),
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "CI"}),
    ],
)
def test_an_org_that_requires_a_second_factor_guards_its_teams_and_keys(
    app: Flask, owner: Person, org: dict, method: str, suffix: str, body: object
) -> None:
    owner.call("PUT", f"/{org['id']}/second-factor-policy", {"require_second_factor": True})
    refused = owner.call(method, f"/{org['id']}{suffix}", body)
    assert_problem(refused, 403)
    assert refused.json["type"].endswith("second-factor-required")
    strong = Person(app, "owner@example.com", methods=MULTI_FACTOR)
    assert strong.call(method, f"/{org['id']}{suffix}", body).status_code < 400


def test_without_a_second_factor_the_orgs_claim_withholds_team_roles_and_slugs(
    app: Flask, owner: Person, org: dict, member: tuple[Person, str]
) -> None:
    person, member_id = member
    team = create_team(owner, org)
    owner.call("PUT", f"/{org['id']}/teams/{team['id']}/members/{member_id}")
    owner.call("PUT", f"/{org['id']}/second-factor-policy", {"require_second_factor": True})

    (entry,) = claims(person)["orgs"]

    assert entry["roles"] == [] and entry["second_factor_required"] is True
    assert "teams" not in entry
