"""Who holds a service's roles, on its page and in a refused sync: members and teams, each
counted and worded in the singular or plural (ngettext)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver import audit
from authserver.admin.services import held_by
from authserver.extensions import db
from authserver.models import AuditEvent, Role, User
from authserver.services.manifest import parse
from authserver.services.sync import describe_assignments, manifest_digest, sync
from tests.admin.conftest import post
from tests.factories import make_member, make_org, make_team, make_user

MANIFEST = {
    "service": "billing",
    "permissions": [{"resource": "invoice", "action": "read"}],
    "roles": [
        {"name": "viewer", "permissions": ["invoice:read"]},
        {"name": "auditor", "permissions": ["invoice:read"]},
        {"name": "clerk", "permissions": ["invoice:read"]},
    ],
}
WITHOUT_ROLES = {**MANIFEST, "roles": []}


@pytest.fixture
def roles(app: Flask) -> dict[str, Role]:
    sync(parse("billing", MANIFEST), manifest_digest(MANIFEST))
    return {role.name: role for role in db.session.scalars(select(Role))}


def hold(roles: dict[str, Role], *, members: dict[str, int], teams: dict[str, int]) -> None:
    """Give each named role to so many members and so many teams of one organization."""
    org = make_org()
    for name, count in members.items():
        for _ in range(count):
            make_member(org, make_user(), [roles[name]])
    for name, count in teams.items():
        for index in range(count):
            team = make_team(org, slug=f"{name}-team-{index}")
            team.roles.append(roles[name])
    db.session.commit()


@pytest.mark.parametrize(
    ("members", "teams", "words"),
    [
        (0, 0, "nobody"),
        (1, 0, "1 member"),
        (2, 0, "2 members"),
        (0, 1, "1 team"),
        (0, 3, "3 teams"),
        (1, 1, "1 member and 1 team"),
        (2, 5, "2 members and 5 teams"),
    ],
)
def test_who_holds_a_role_is_worded_in_the_singular_or_plural(
    app,
    members: int,
    teams: int,
    words: str,  # noqa: ANN001
) -> None:
    with app.test_request_context():
        assert held_by(members, teams) == words


@pytest.mark.parametrize(
    ("members", "teams", "words"),
    [
        (1, 0, "1 member role assignment"),
        (0, 2, "2 team role assignments"),
        (3, 1, "3 member role assignments and 1 team role assignment"),
    ],
)
def test_the_assignments_a_sync_would_remove_are_worded_each(
    app,
    members: int,
    teams: int,
    words: str,  # noqa: ANN001
) -> None:
    with app.test_request_context():
        assert describe_assignments(members, teams) == words


def test_a_service_page_counts_members_and_teams_for_each_role(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    hold(roles, members={"viewer": 2, "auditor": 1}, teams={"viewer": 1, "clerk": 2})
    page = console(admin_operator).get("/admin/services/billing").data.decode()
    row = {name: page.split(f"billing:{name}<")[1].split("</tr>")[0] for name in roles}
    assert "<td>2 members and 1 team</td>" in row["viewer"]
    assert "<td>1 member</td>" in row["auditor"]
    assert "<td>2 teams</td>" in row["clerk"]


def test_a_service_page_says_when_nobody_holds_a_role(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    assert b"<td>nobody</td>" in console(admin_operator).get("/admin/services/billing").data


def test_a_refused_sync_counts_the_team_assignments_too(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    hold(roles, members={"viewer": 1}, teams={"viewer": 1, "clerk": 1})
    http = console(admin_operator)
    form = {"manifest": json.dumps(WITHOUT_ROLES)}
    refused = post(http, "/admin/services/sync", form, page="/admin/services")
    assert refused.status_code == 409
    assert b"1 member role assignment and 2 team role assignments would be removed" in refused.data
    assert Role.find("billing", "clerk") is not None


def test_a_sync_refused_for_teams_alone_does_not_speak_of_members(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    hold(roles, members={}, teams={"auditor": 1})
    http = console(admin_operator)
    form = {"manifest": json.dumps(WITHOUT_ROLES)}
    refused = post(http, "/admin/services/sync", form, page="/admin/services")
    assert refused.status_code == 409 and b"1 team role assignment would be removed" in refused.data
    assert b"member" not in refused.data.split(b"would be removed")[0][-60:]


def test_the_last_sync_says_how_many_assignments_it_pruned(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    hold(roles, members={"viewer": 1}, teams={"clerk": 1})
    http = console(admin_operator)
    form = {"manifest": json.dumps(WITHOUT_ROLES), "prune": "on"}
    assert post(http, "/admin/services/sync", form, page="/admin/services").status_code == 303
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "manifest.synced"))
    assert event.details["pruned_assignments"] == 2
    assert b"2 role assignments pruned" in http.get("/admin/services/billing").data


def test_one_pruned_assignment_is_worded_in_the_singular(
    console: Callable[[User], FlaskClient], admin_operator: User, roles: dict[str, Role]
) -> None:
    audit.record("manifest.synced", target_type="service", target_id="billing", via="api",
                 pruned_assignments=1)  # fmt: skip
    db.session.commit()
    page = console(admin_operator).get("/admin/services/billing").data
    assert b"1 role assignment pruned" in page and b"assignments pruned" not in page
