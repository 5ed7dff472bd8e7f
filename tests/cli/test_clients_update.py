"""`authserver clients update`: change what a client may do, rotate its secret, audited."""

from __future__ import annotations

import json

from authserver.hashing import sha256_hex
from tests.cli.conftest import Operator, one_line_error


def create(op: Operator, *options: str) -> dict:
    return json.loads(
        op.ok("clients", "create", "--name", "Notes", "--redirect-uri", "https://a.example/cb",
              "--json", *options)
    )  # fmt: skip


def test_update_replaces_the_fields_named_and_audits_which(initialized: Operator) -> None:
    client = create(initialized)
    out = initialized.ok(
        "clients", "update", client["client_id"], "--name", "Notes 2",
        "--redirect-uri", "https://b.example/cb", "--redirect-uri", "https://c.example/cb",
    )  # fmt: skip
    assert "name, redirect_uris changed" in out
    shown = json.loads(initialized.ok("clients", "show", client["client_id"]))
    assert shown["name"] == "Notes 2"
    assert shown["redirect_uris"] == ["https://b.example/cb", "https://c.example/cb"]
    [(details,)] = initialized.query(
        "SELECT details FROM audit_events WHERE event_type = 'client.changed'"
    )
    details = json.loads(details) if isinstance(details, str) else details
    assert details == {
        "fields": ["name", "redirect_uris"],
        "values": {
            "name": {"from": "Notes", "to": "Notes 2"},
            "redirect_uris": {
                "from": ["https://a.example/cb"],
                "to": ["https://b.example/cb", "https://c.example/cb"],
            },
        },
    }


def test_rotating_the_secret_prints_a_new_one_once(initialized: Operator) -> None:
    client = create(initialized)
    out = initialized.ok("clients", "update", client["client_id"], "--rotate-secret")
    secret = out.split("client_secret: ")[1].split()[0]
    [(stored,)] = initialized.query(
        "SELECT client_secret_hash FROM oauth_clients WHERE client_id = :id",
        id=client["client_id"],
    )
    assert stored == sha256_hex(secret) != sha256_hex(client["client_secret"])
    assert secret not in json.dumps(initialized.query("SELECT details FROM audit_events"))
    [(details,)] = initialized.query(
        "SELECT details FROM audit_events WHERE event_type = 'client.changed'"
    )
    details = json.loads(details) if isinstance(details, str) else details
    assert details == {"fields": ["client_secret"], "values": {}}


def test_nothing_to_change_changes_nothing(initialized: Operator) -> None:
    client = create(initialized)
    out = initialized.ok("clients", "update", client["client_id"], "--name", "Notes")
    assert "no change" in out
    assert initialized.query(
        "SELECT count(*) FROM audit_events WHERE event_type = 'client.changed'"
    ) == [(0,)]


def test_an_invalid_change_is_refused_and_nothing_is_kept(initialized: Operator) -> None:
    client = create(initialized)
    result = initialized.run(
        "clients", "update", client["client_id"], "--name", "X", "--redirect-uri", "http://evil/cb"
    )
    assert result.returncode == 2 and "--redirect-uri" in one_line_error(result)
    assert json.loads(initialized.ok("clients", "show", client["client_id"]))["name"] == "Notes"


def test_a_public_client_has_no_secret_to_rotate(initialized: Operator) -> None:
    client = create(initialized, "--public")
    result = initialized.run("clients", "update", client["client_id"], "--rotate-secret")
    assert result.returncode == 2 and "public client" in one_line_error(result)


def test_page_uris_are_set_at_creation_changed_and_removed(initialized: Operator) -> None:
    client = create(initialized, "--logo-uri", "https://a.example/logo.png",
                    "--client-uri", "https://a.example/")  # fmt: skip
    assert client["logo_uri"] == "https://a.example/logo.png"
    assert client["client_uri"] == "https://a.example/"
    out = initialized.ok(
        "clients", "update", client["client_id"], "--logo-uri", "",
        "--policy-uri", "https://a.example/privacy", "--tos-uri", "https://a.example/terms",
    )  # fmt: skip
    assert "logo_uri, policy_uri, tos_uri changed" in out
    shown = json.loads(initialized.ok("clients", "show", client["client_id"]))
    assert shown["logo_uri"] is None
    assert shown["policy_uri"] == "https://a.example/privacy"
    assert shown["tos_uri"] == "https://a.example/terms"


def test_a_logo_uri_in_the_clear_is_refused_with_its_option_named(initialized: Operator) -> None:
    client = create(initialized)
    error = one_line_error(
        initialized.run(
            "clients", "update", client["client_id"], "--logo-uri", "http://a.example/l"
        )
    )
    assert "--logo-uri" in error and "https" in error
