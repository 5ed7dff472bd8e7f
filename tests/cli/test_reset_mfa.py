"""`authserver users reset-mfa EMAIL`: every factor and recovery code goes, audited."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

from tests.cli.conftest import Operator, one_line_error


def _execute(operator: Operator, sql: str, **params: object) -> None:
    engine = create_engine(operator.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


def test_reset_mfa_removes_the_factors_and_records_it(initialized: Operator) -> None:
    initialized.ok(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin="correct horse battery staple\n",
    )  # fmt: skip
    user = str(initialized.query("SELECT id FROM users")[0][0])  # as each backend stores it
    now = "2026-01-01 00:00:00"
    _execute(
        initialized,
        "INSERT INTO mfa_totp_secrets"
        " (user_id, secret_ciphertext, created_at, confirmed_at, last_used_step)"
        " VALUES (:u, 'sealed', :now, :now, 0)",
        u=user, now=now,
    )  # fmt: skip
    for index in range(3):
        _execute(
            initialized,
            "INSERT INTO mfa_recovery_codes (id, user_id, code_hash, created_at)"
            " VALUES (:id, :u, :h, :now)",
            id=uuid.uuid4().hex,
            u=user, h=f"{index:064d}", now=now,
        )  # fmt: skip

    out = initialized.ok("users", "reset-mfa", "ada@example.com")

    assert "1 authenticator app(s)" in out and "3 recovery code(s)" in out
    assert initialized.query("SELECT count(*) FROM mfa_totp_secrets") == [(0,)]
    assert initialized.query("SELECT count(*) FROM mfa_recovery_codes") == [(0,)]
    events = initialized.query("SELECT event_type FROM audit_events WHERE event_type = 'mfa.reset'")
    assert events == [("mfa.reset",)]


def test_reset_mfa_of_an_unknown_person_is_a_clear_error(initialized: Operator) -> None:
    result = initialized.run("users", "reset-mfa", "nobody@example.com")
    assert "no person with the email" in one_line_error(result)
