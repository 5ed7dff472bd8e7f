"""The audit log page: filters, newest-first pages that never skip a row, JSON lines export."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import AuditEvent, User
from tests.factories import make_org


def ids_on(html: bytes) -> list[str]:
    return re.findall(rb"\"id\": \"([0-9a-f-]{36})\"", html)


@pytest.fixture
def events(admin_operator: User, person: User) -> dict[str, AuditEvent]:
    org = make_org(slug="acme")
    made = {
        "sign_in": audit.record("sign_in", actor_user_id=person.id, target_type="user",
                                target_id=str(person.id)),
        "token": audit.record("token.family_revoked", actor_client_id="reports-app"),
        "org": audit.record("member.added", organization_id=org.id, actor_user_id=person.id),
        "old": audit.record("client.created", target_type="client", target_id="old-app"),
    }  # fmt: skip
    made["old"].occurred_at = utcnow() - timedelta(days=3)
    db.session.commit()
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"type": "token."}, {"token"}),
        ({"actor": "grace@example.com"}, {"sign_in", "org"}),
        ({"actor": "reports-app"}, {"token"}),
        ({"org": "acme"}, {"org"}),
        ({"target": "client:old-app"}, {"old"}),
        ({"until": (utcnow() - timedelta(days=1)).date().isoformat()}, {"old"}),
        ({"since": (utcnow() - timedelta(days=1)).isoformat(timespec="minutes")},
         {"sign_in", "token", "org"}),
        ({"actor": "nobody@example.com"}, set()),
    ],
)  # fmt: skip
def test_the_filters_select_the_events(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    events: dict[str, AuditEvent],
    query: dict[str, str],
    expected: set[str],
) -> None:
    page = console(admin_operator).get("/admin/audit", query_string=query)
    assert page.status_code == 200
    shown = {name for name, event in events.items() if str(event.id).encode() in ids_on(page.data)}
    assert shown == expected


def test_pages_go_from_newest_to_oldest_without_gaps(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    now = utcnow()
    for n in range(120):
        audit.record("test.paged", n=n).occurred_at = now - timedelta(seconds=n // 3)
    db.session.commit()
    http = console(admin_operator)
    seen: list[bytes] = []
    path = "/admin/audit?type=test."
    while path:
        page = http.get(path)
        seen += ids_on(page.data)
        found = re.search(rb'href="([^"]+)" rel="next"', page.data)
        path = found.group(1).decode().replace("&amp;", "&") if found else None
    expected = db.session.scalars(
        AuditEvent.matching(type_prefix="test.").order_by(
            AuditEvent.occurred_at.desc(), AuditEvent.id.desc()
        )
    ).all()
    assert seen == [str(e.id).encode() for e in expected] and len(seen) == 120


def test_the_export_is_the_filtered_set_as_json_lines(
    console: Callable[[User], FlaskClient], admin_operator: User, events: dict[str, AuditEvent]
) -> None:
    response = console(admin_operator).get("/admin/audit/export?actor=grace@example.com")
    assert response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = [json.loads(line) for line in response.data.decode().splitlines()]
    assert {line["id"] for line in lines} == {str(events["sign_in"].id), str(events["org"].id)}
    assert lines[0]["occurred_at"] >= lines[1]["occurred_at"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "yesterday"},
        {"until": "2026-13-45"},
        {"before": "garbage"},
        {"before": f"2026-12-01T00:00:00+00:00|{uuid.uuid4()}x"},
        {"type": "t" * 65},
        {"actor": "\ufffd"},
        {"org": "not-a-slug-or-id"},
    ],
)
def test_bad_filters_get_a_friendly_page(
    console: Callable[[User], FlaskClient], admin_operator: User, query: dict[str, str]
) -> None:
    response = console(admin_operator).get("/admin/audit", query_string=query)
    assert response.status_code in (200, 400) and response.mimetype == "text/html"
