"""`authserver orgs add-member`: the operator's way into an organization (people otherwise
join only by accepting an invitation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from authserver import create_app
from authserver.extensions import db
from authserver.models import Organization
from tests.cli.conftest import Operator, one_line_error
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple\n"


@pytest.fixture
def acme(operator: Operator, tmp_path: Path) -> Operator:
    """An initialized server with the org `acme` and the person ada@example.com."""
    operator.ok("init")
    operator.ok(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin=PASSWORD,
    )  # fmt: skip
    app = create_app(make_settings(tmp_path, operator.database_url))
    with app.app_context():
        db.session.add(Organization(name="Acme", slug="acme"))
        db.session.commit()
        db.engine.dispose()
    return operator


def member_roles(operator: Operator) -> list[tuple]:
    return operator.query(
        "SELECT o.slug, u.email, r.service || ':' || r.name FROM organization_members m"
        " JOIN organizations o ON o.id = m.organization_id JOIN users u ON u.id = m.user_id"
        " LEFT JOIN member_roles mr ON mr.member_id = m.id LEFT JOIN roles r ON r.id = mr.role_id"
    )


def test_an_operator_adds_a_member_with_roles_and_it_is_audited(acme: Operator) -> None:
    out = acme.ok("orgs", "add-member", "acme", "ADA@example.com", "--role", "auth:owner")
    assert "added <ada@example.com> to acme: auth:owner" in out
    assert member_roles(acme) == [("acme", "ada@example.com", "auth:owner")]
    events = acme.query("SELECT event_type FROM audit_events WHERE event_type = 'member.added'")
    assert events == [("member.added",)]


@pytest.mark.parametrize(
    ("args", "status", "words"),
    [
        (["nope", "ada@example.com"], 2, "ORG"),
        (["acme", "nobody@example.com"], 2, "EMAIL"),
        (["acme", "ada@example.com", "--role", "billing:god"], 1, "not a role"),
    ],
    ids=["unknown-org", "unknown-person", "undeclared-role"],
)
def test_a_bad_add_member_names_what_is_wrong_and_writes_nothing(
    acme: Operator, args: list[str], status: int, words: str
) -> None:
    result = acme.run("orgs", "add-member", *args)
    assert result.returncode == status and words in one_line_error(result)
    assert member_roles(acme) == []


def test_adding_a_member_twice_is_refused_in_one_line(acme: Operator) -> None:
    acme.ok("orgs", "add-member", "acme", "ada@example.com")
    again = acme.run("orgs", "add-member", "acme", "ada@example.com")
    assert again.returncode == 1 and "already a member" in one_line_error(again)


def test_a_disabled_person_is_not_added(acme: Operator) -> None:
    acme.ok("users", "disable", "ada@example.com")
    result = acme.run("orgs", "add-member", "acme", "ada@example.com")
    assert result.returncode == 1 and "disabled" in one_line_error(result)
    assert member_roles(acme) == []
