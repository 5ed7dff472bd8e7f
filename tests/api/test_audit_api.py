"""GET /api/v1/orgs/{org_id}/audit-events: an organization's audit log for its owners and
admins only, newest first, in pages; never another org's events, never IP addresses."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.api.conftest import Person, assert_problem, join
from tests.api.test_invitations_api import invite


def audit(by: Person, org: dict, **query: str):  # noqa: ANN201
    return by.http.get(
        f"/api/v1/orgs/{org['id']}/audit-events",
        query_string=query,
        headers={"Authorization": f"Bearer {by.token}"},
    )


def test_an_owner_reads_the_org_log_newest_first(app: Flask, owner: Person, org: dict) -> None:
    join(owner, org, Person(app, "bea@example.com"), ["billing:viewer"])
    invite(owner, org, "cy@example.com")

    response = audit(owner, org)

    assert response.status_code == 200
    types = [event["event_type"] for event in response.json["events"]]
    assert types == [
        "invitation.created",
        "invitation.accepted",
        "invitation.created",
        "org.created",
    ]
    assert response.json["next"] is None
    first = response.json["events"][0]
    assert first["actor_user_id"] == str(owner.user.id)
    assert "ip_address" not in first and "user_agent" not in first


def test_pages_follow_the_next_cursor_without_gaps(app: Flask, owner: Person, org: dict) -> None:
    for n in range(5):
        invite(owner, org, f"p{n}@example.com")
    seen, cursor = [], None
    while True:
        page = audit(owner, org, limit="2", **({"before": cursor} if cursor else {})).json
        seen += [event["id"] for event in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
    everything = [event["id"] for event in audit(owner, org, limit="50").json["events"]]
    assert seen == everything and len(everything) == 6


def test_the_type_filter_is_a_prefix(app: Flask, owner: Person, org: dict) -> None:
    join(owner, org, Person(app, "bea@example.com"), ["billing:viewer"])
    types = {e["event_type"] for e in audit(owner, org, type="invitation.").json["events"]}
    assert types == {"invitation.created", "invitation.accepted"}
    assert audit(owner, org, type="invitation%").json["events"] == []  # no LIKE wildcards


def test_another_orgs_events_are_never_shown(app: Flask, owner: Person, org: dict) -> None:
    other = owner.call("POST", "", {"name": "Other", "slug": "other"}).json
    invite(owner, other, "elsewhere@example.com")
    types = [e["event_type"] for e in audit(owner, org).json["events"]]
    assert types == ["org.created"]


def test_a_plain_member_may_not_read_the_log(app: Flask, owner: Person, org: dict) -> None:
    member = Person(app, "bea@example.com")
    join(owner, org, member, ["billing:viewer"])
    assert_problem(audit(member, org), 403)


def test_a_stranger_sees_no_such_org(app: Flask, owner: Person, org: dict) -> None:
    assert_problem(audit(Person(app, "eve@example.com"), org), 404)


NAIVE_CURSOR = "2026-01-01T00:00:00_00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        {"before": "nope"},
        {"before": "2026-01-01T00:00:00+00:00_not-a-uuid"},
        {"before": NAIVE_CURSOR},
    ],
)
def test_bad_limits_and_cursors_are_400(owner: Person, org: dict, query: dict) -> None:
    assert_problem(audit(owner, org, **query), 400)
