"""`authserver api-keys`: an operator lists a person's keys (prefixes only) and revokes one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authserver import create_app
from authserver.credentials import api_keys
from authserver.extensions import db
from authserver.models import User
from tests.cli.conftest import Operator
from tests.conftest import make_settings


@pytest.fixture
def ada_key(operator: Operator, tmp_path: Path) -> tuple[str, str]:
    """The id and the raw secret of a key of ada@example.com."""
    operator.ok("init")
    app = create_app(make_settings(tmp_path, operator.database_url))
    with app.app_context():
        ada = User(email="ada@example.com", display_name="Ada")
        db.session.add(ada)
        db.session.flush()
        key, raw = api_keys.create_personal(ada, "laptop", None, None)
        db.session.commit()
        found = str(key.id), raw
        db.engine.dispose()
    return found


def test_listing_shows_prefixes_never_secrets(operator: Operator, ada_key: tuple[str, str]) -> None:
    key_id, raw = ada_key
    listed = json.loads(operator.ok("api-keys", "list", "--email", "ada@example.com", "--json"))
    assert [(k["id"], k["name"], raw.startswith(k["prefix"])) for k in listed] == [
        (key_id, "laptop", True)
    ]
    assert raw not in operator.ok("api-keys", "list", "--email", "ada@example.com")


def test_revoking_a_key_is_audited_and_said_twice_harmlessly(
    operator: Operator, ada_key: tuple[str, str]
) -> None:
    key_id, _ = ada_key
    assert f"revoked {key_id}" in operator.ok("api-keys", "revoke", key_id)
    assert "already revoked" in operator.ok("api-keys", "revoke", key_id)
    events = operator.query("SELECT event_type FROM audit_events WHERE target_id = :id", id=key_id)
    assert events == [("api_key.revoked",)]


@pytest.mark.parametrize(
    "args",
    [
        ("revoke", "not-a-uuid"),
        ("revoke", "00000000-0000-0000-0000-000000000000"),
        ("list",),
        ("list", "--email", "nobody@example.com"),
        ("list", "--org", "no-such-org"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    operator: Operator, ada_key: tuple[str, str], args: tuple[str, ...]
) -> None:
    result = operator.run("api-keys", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_a_client_for_exchanging_keys_is_registered_from_the_cli(sqlite_operator: Operator) -> None:
    sqlite_operator.ok("init")
    out = sqlite_operator.ok(
        "clients", "create", "--name", "deploy script", "--public",
        "--grant-type", "token_exchange",
    )  # fmt: skip
    assert out.startswith("client_id:")
    rows = sqlite_operator.query("SELECT grant_types, scopes FROM oauth_clients")
    assert rows == [('["urn:ietf:params:oauth:grant-type:token-exchange"]', '["orgs"]')]
