"""`authserver clients create/update`: the DPoP requirement and back-channel logout settings."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Operator, one_line_error


def create(op: Operator, *options: str) -> dict:
    return json.loads(
        op.ok("clients", "create", "--name", "Notes", "--redirect-uri", "https://a.example/cb",
              "--json", *options)
    )  # fmt: skip


def test_create_registers_dpop_and_back_channel_logout(initialized: Operator) -> None:
    client = create(
        initialized, "--dpop-bound", "--backchannel-logout-uri", "https://a.example/bc",
        "--backchannel-logout-session-required",
    )  # fmt: skip
    assert client["dpop_bound_access_tokens"] is True
    assert client["backchannel_logout_uri"] == "https://a.example/bc"
    assert client["backchannel_logout_session_required"] is True


def test_update_changes_them_and_an_empty_uri_removes_it(initialized: Operator) -> None:
    client = create(initialized)
    assert client["dpop_bound_access_tokens"] is False
    out = initialized.ok(
        "clients", "update", client["client_id"], "--dpop-bound",
        "--backchannel-logout-uri", "http://127.0.0.1:9000/bc",
    )  # fmt: skip
    assert "dpop_bound_access_tokens, backchannel_logout_uri changed" in out
    initialized.ok("clients", "update", client["client_id"], "--backchannel-logout-uri", "")
    shown = json.loads(initialized.ok("clients", "show", client["client_id"]))
    assert shown["dpop_bound_access_tokens"] is True
    assert shown["backchannel_logout_uri"] is None


@pytest.mark.parametrize(
    "uri",
    ["http://a.example/bc", "https://a.example/bc#frag", "ftp://a.example/bc", "https://", "x"],
)
def test_an_unsafe_back_channel_uri_is_refused_in_one_line(
    sqlite_operator: Operator, uri: str
) -> None:
    sqlite_operator.ok("db", "upgrade")
    result = sqlite_operator.run(
        "clients", "create", "--name", "Notes", "--redirect-uri", "https://a.example/cb",
        "--backchannel-logout-uri", uri,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--backchannel-logout-uri" in one_line_error(result)
