"""`authserver outbox`: deliver once, see the outbox, revive what was given up; its old name
`authserver mail` still works; and a bad SMTP setting stops every command with one line."""

from __future__ import annotations

import json
import re
import uuid

from sqlalchemy import create_engine, text

from tests.cli.conftest import Operator, one_line_error

MESSAGE = {"to": "ada@example.com", "subject": "Hello", "template": "t", "text": "Hi http://x/y",
           "html": "<p>Hi</p>"}  # fmt: skip


def add(operator: Operator, *, given_up: bool = False) -> None:
    """A message in the outbox, as a committed request leaves it (or as a worker gave up)."""
    url = operator.database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    # SQLAlchemy keeps a UUID as 32 hex digits on SQLite, as uuid on PostgreSQL.
    key = uuid.uuid4().hex if url.startswith("sqlite") else str(uuid.uuid4())
    when = "NULL" if given_up else "CURRENT_TIMESTAMP"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox (id, kind, payload, created_at, attempts, next_attempt_at)"
                f" VALUES (:id, 'mail', :payload, CURRENT_TIMESTAMP, 0, {when})"
            ),
            {"id": key, "payload": json.dumps(MESSAGE)},
        )
    engine.dispose()


def test_deliver_once_sends_what_is_due_to_the_development_log(initialized: Operator) -> None:
    add(initialized)
    result = initialized.run("outbox", "deliver", "--once")
    assert result.returncode == 0, result.stderr
    assert "delivered 1, failed 0" in result.stdout
    assert "mail (no SMTP configured) to ada@example.com" in result.stderr
    assert initialized.ok("outbox", "status").startswith("waiting 0, given up 0, delivered 1")


def test_retry_makes_given_up_messages_due_again(initialized: Operator) -> None:
    add(initialized, given_up=True)
    assert "given up 1" in initialized.ok("outbox", "status")
    assert "1 messages due again" in initialized.ok("outbox", "retry")
    assert "delivered 1" in initialized.ok("outbox", "deliver", "--once")


def test_the_old_name_mail_runs_the_same_commands_and_is_not_listed(
    initialized: Operator,
) -> None:
    add(initialized, given_up=True)
    assert "given up 1" in initialized.ok("mail", "status")
    assert "1 messages due again" in initialized.ok("mail", "retry")
    assert "delivered 1" in initialized.ok("mail", "deliver", "--once")
    listed = initialized.ok("--help")
    assert "outbox" in listed and not re.search(r"^\s+mail\b", listed, re.MULTILINE)


def test_a_bad_smtp_setting_is_one_line(sqlite_operator: Operator) -> None:
    sqlite_operator.env["AUTHSERVER_SMTP_SECURITY"] = "ssl"
    error = one_line_error(sqlite_operator.run("mail", "status"))
    assert error == (
        "authserver: AUTHSERVER_SMTP_SECURITY: must be one of starttls, tls, none (got 'ssl')"
    )
