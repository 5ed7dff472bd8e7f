"""The `authserver` command end to end, as an operator runs it: a real process per command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher

from authserver import create_app
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import Role
from tests.cli.conftest import PROJECT_ROOT, Operator, base_env, one_line_error
from tests.cli.warm import WarmAuthserver
from tests.conftest import make_settings
from tests.e2e.processes import free_port
from tests.factories import make_member, make_org, make_team, make_user

HEAD_REVISION = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()


# ---- init -----------------------------------------------------------------------------------


def test_init_migrates_and_makes_a_key_and_is_safe_to_repeat(operator: Operator) -> None:
    first = operator.ok("init", fresh=True)  # `python -m authserver`, from the interpreter's start
    assert "generated RS256 key" in first
    kid = json.loads(operator.ok("keys", "list", "--json"))[0]["kid"]
    assert operator.query("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]

    second = operator.ok("init")
    assert "a signing key exists" in second
    assert [k["kid"] for k in json.loads(operator.ok("keys", "list", "--json"))] == [kid]


def test_flask_db_upgrade_works_too(operator: Operator) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "authserver:create_app", "db", "upgrade"],
        env=operator.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert operator.query("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_db_downgrade_removes_the_schema(initialized: Operator) -> None:
    initialized.ok("db", "downgrade", "base")
    assert initialized.query("SELECT count(*) FROM alembic_version") == [(0,)]


# ---- clients --------------------------------------------------------------------------------


def test_confidential_client_secret_is_printed_once_and_only_its_hash_is_kept(
    initialized: Operator,
) -> None:
    created = json.loads(
        initialized.ok(
            "clients",
            "create",
            "--name",
            "Billing web",
            "--redirect-uri",
            "https://billing.example.com/callback",
            "--post-logout-redirect-uri",
            "https://billing.example.com/",
            "--json",
        )
    )
    secret = created["client_secret"]
    assert len(secret) >= 43
    rows = initialized.query(
        "SELECT client_secret_hash, token_endpoint_auth_method FROM oauth_clients"
    )
    assert rows == [(sha256_hex(secret), "client_secret_basic")]

    shown = initialized.ok("clients", "show", created["client_id"])
    listed = initialized.ok("clients", "list")
    assert secret not in shown and secret not in listed
    assert json.loads(shown)["redirect_uris"] == ["https://billing.example.com/callback"]
    assert created["client_id"] in listed and "confidential" in listed


def test_public_client_has_no_secret(initialized: Operator) -> None:
    out = initialized.ok(
        "clients",
        "create",
        "--name",
        "Mobile",
        "--public",
        "--redirect-uri",
        "com.example.mobile:/oauth/callback",
        "--redirect-uri",
        "http://127.0.0.1:53682/callback",
        "--client-id",
        "mobile-app",
    )
    assert "no secret" in out and "client_secret" not in out
    assert initialized.query("SELECT client_secret_hash FROM oauth_clients") == [(None,)]


def test_service_client_gets_client_credentials_and_registers_its_service(
    initialized: Operator,
) -> None:
    created = json.loads(
        initialized.ok(
            "clients", "create", "--name", "Billing API", "--service", "billing", "--json"
        )
    )
    assert created["grant_types"] == ["client_credentials"]
    assert created["scopes"] == ["services:sync"]
    assert initialized.query("SELECT name FROM services") == [("billing",)]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--redirect-uri", "http://evil.example.com/cb"], "--redirect-uri"),
        (["--redirect-uri", "https://app.example.com/cb#frag"], "--redirect-uri"),
        (["--redirect-uri", "https://*.example.com/cb"], "--redirect-uri"),
        ([], "--redirect-uri"),
        (["--redirect-uri", "https://a.example.com/cb", "--scope", "admin"], "--scope"),
        (["--grant-type", "client_credentials"], "--service"),
        (["--public", "--grant-type", "client_credentials", "--service", "x"], "--grant-type"),
        (["--redirect-uri", "https://a.example.com/cb", "--client-id", "a b"], "--client-id"),
        (["--redirect-uri", "https://a.example.com/cb", "--client-id=-abc"], "--client-id"),
        (["--redirect-uri", "https://a.example.com/cb", "--service", "Bad Name"], "--service"),
        (
            ["--redirect-uri", "https://a.example.com/cb", "--client-id", str(uuid.uuid4())],
            "--client-id",
        ),
        (["--service", "billing", "--scope", "services:sync", "--scope", "orgs"], "--scope"),
    ],
    ids=[
        "http-remote",
        "fragment",
        "wildcard",
        "no-redirect",
        "unknown-scope",
        "cc-without-service",
        "public-cc",
        "bad-client-id",
        "dash-client-id",
        "bad-service",
        "uuid-client-id",
        "service-with-person-scope",
    ],
)
def test_bad_client_fields_are_named_and_nothing_is_written(
    initialized: Operator, args: list[str], names: str
) -> None:
    result = initialized.run("clients", "create", "--name", "App", *args)
    assert result.returncode == 2
    assert names in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM oauth_clients") == [(0,)]
    assert initialized.query("SELECT count(*) FROM services") == [(0,)]


def test_duplicate_client_id_is_refused(initialized: Operator) -> None:
    args = (
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        "https://a.example.com/cb",
        "--client-id",
        "same-id",
    )
    initialized.ok(*args)
    assert "is taken" in one_line_error(initialized.run(*args))


def test_delete_client_removes_it(initialized: Operator) -> None:
    initialized.ok(
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        "https://a.example.com/cb",
        "--client-id",
        "gone-soon",
    )
    initialized.ok("clients", "delete", "gone-soon", "--yes")
    assert initialized.query("SELECT count(*) FROM oauth_clients") == [(0,)]
    assert "no client 'gone-soon'" in one_line_error(
        initialized.run("clients", "show", "gone-soon")
    )
    events = initialized.query("SELECT event_type FROM audit_events ORDER BY occurred_at")
    assert ("client.created",) in events and ("client.deleted",) in events


def test_delete_without_yes_asks_and_a_no_keeps_the_client(initialized: Operator) -> None:
    initialized.ok(
        "clients",
        "create",
        "--name",
        "A",
        "--redirect-uri",
        "https://a.example.com/cb",
        "--client-id",
        "kept",
    )
    result = initialized.run("clients", "delete", "kept", stdin="n\n")
    assert result.returncode != 0
    assert initialized.query("SELECT count(*) FROM oauth_clients") == [(1,)]


# ---- users ----------------------------------------------------------------------------------


def test_users_create_stores_an_argon2id_hash(initialized: Operator) -> None:
    out = initialized.ok(
        "users",
        "create",
        "--email",
        " Ada@Example.COM ",
        "--name",
        "Ada Lovelace",
        "--password-stdin",
        "--platform-role",
        "admin",
        stdin="correct horse battery\n",
    )
    assert "ada@example.com" in out
    [(email, password_hash)] = initialized.query("SELECT email, password_hash FROM users")
    assert email == "ada@example.com"
    assert password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(password_hash, "correct horse battery")
    assert initialized.query("SELECT role FROM platform_roles") == [("admin",)]


def test_users_platform_role_makes_an_existing_person_an_operator(initialized: Operator) -> None:
    initialized.ok(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    assert "platform role root" in initialized.ok(
        "users", "platform-role", "ada@example.com", "root"
    )
    assert initialized.query("SELECT role FROM platform_roles") == [("root",)]
    last_root = initialized.run("users", "platform-role", "ada@example.com", "none")
    assert last_root.returncode != 0 and "at least one root" in last_root.stderr
    assert initialized.query("SELECT role FROM platform_roles") == [("root",)]


@pytest.mark.parametrize(
    ("args", "stdin", "names"),
    [
        (["--email", "not-an-email"], "correct horse battery\n", "--email"),
        (["--email", "a@example.com"], "short\n", "password"),
        (
            ["--email", "a@example.com", "--platform-role", "god"],
            "correct horse battery\n",
            "--platform-role",
        ),
    ],
    ids=["bad-email", "short-password", "bad-role"],
)
def test_bad_user_fields_are_named_and_nothing_is_written(
    initialized: Operator, args: list[str], stdin: str, names: str
) -> None:
    result = initialized.run(
        "users", "create", "--name", "A", "--password-stdin", *args, stdin=stdin
    )
    assert result.returncode == 2
    assert names in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM users") == [(0,)]


def test_a_second_account_for_the_same_email_is_refused(initialized: Operator) -> None:
    args = ("users", "create", "--email", "a@example.com", "--name", "A", "--password-stdin")
    initialized.ok(*args, stdin="correct horse battery\n")
    result = initialized.run(*args[:3], "A@EXAMPLE.com", *args[4:], stdin="another long one\n")
    assert "already has an account" in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM users") == [(1,)]


# ---- keys -----------------------------------------------------------------------------------


def test_keys_generate_rotate_retire_and_list(initialized: Operator) -> None:
    first = json.loads(initialized.ok("keys", "list", "--json"))[0]
    assert first["signing"] and first["state"] == "active"

    initialized.ok("keys", "rotate", "--alg", "ES256")
    keys = {k["kid"]: k for k in json.loads(initialized.ok("keys", "list", "--json"))}
    [new] = [k for k in keys.values() if k["kid"] != first["kid"]]
    assert new["alg"] == "ES256" and new["state"] == "pending" and not new["signing"]
    assert keys[first["kid"]]["signing"]

    initialized.ok("keys", "rotate", "--now")
    keys = json.loads(initialized.ok("keys", "list", "--json"))
    assert len(keys) == 3 and sum(k["signing"] for k in keys) == 1

    initialized.ok("keys", "retire", first["kid"], "--now")
    states = {k["kid"]: k["state"] for k in json.loads(initialized.ok("keys", "list", "--json"))}
    assert states[first["kid"]] == "expired"
    assert "removed 1 expired key" in initialized.ok("keys", "prune")
    events = initialized.query(
        "SELECT event_type FROM audit_events WHERE event_type LIKE 'key.%' ORDER BY occurred_at"
    )
    assert events == [("key.rotated",), ("key.rotated",), ("key.retired",), ("key.pruned",)]


def test_keys_generate_writes_a_private_file(initialized: Operator) -> None:
    initialized.ok("keys", "generate", "--alg", "ES256")
    files = list(Path(initialized.env["AUTHSERVER_KEYS_DIR"]).glob("*.json"))
    assert len(files) == 2
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in files)


def test_retiring_the_only_key_is_refused(initialized: Operator) -> None:
    kid = json.loads(initialized.ok("keys", "list", "--json"))[0]["kid"]
    assert "only key that can sign" in one_line_error(initialized.run("keys", "retire", kid))


def test_a_kid_that_begins_with_a_dash_is_read_as_a_kid(initialized: Operator) -> None:
    result = initialized.run("keys", "retire", "-D7RSXwD8VuVUGUo3QpsGHE1Y")
    assert "no key '-D7RSXwD8VuVUGUo3QpsGHE1Y'" in one_line_error(result)


def test_bad_alg_is_refused(initialized: Operator) -> None:
    result = initialized.run("keys", "generate", "--alg", "HS256")
    assert result.returncode == 2 and "--alg" in one_line_error(result)


# ---- failures before anything runs ----------------------------------------------------------


def test_a_bad_setting_stops_with_one_line(sqlite_operator: Operator) -> None:
    sqlite_operator.env["AUTHSERVER_ISSUER"] = "not-a-url"
    result = sqlite_operator.run("init")
    error = one_line_error(result)
    assert result.returncode == 2
    assert (
        error == "authserver: AUTHSERVER_ISSUER: must be an absolute http(s) URL (got 'not-a-url')"
    )


def test_an_unreachable_database_stops_with_one_line(
    sqlite_operator: Operator, tmp_path: Path
) -> None:
    sqlite_operator.env["AUTHSERVER_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nothing"
    result = sqlite_operator.run("init")
    assert result.returncode == 2
    assert one_line_error(result).startswith(
        "authserver: AUTHSERVER_DATABASE_URL: cannot use the database"
    )
    assert not (tmp_path / "keys").exists() or not list((tmp_path / "keys").glob("*.json"))


def test_an_unusable_keys_dir_stops_with_one_line(
    sqlite_operator: Operator, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    sqlite_operator.env["AUTHSERVER_KEYS_DIR"] = str(blocker / "keys")
    result = sqlite_operator.run("keys", "generate")
    assert result.returncode == 2
    assert one_line_error(result).startswith("authserver: AUTHSERVER_KEYS_DIR: ")


def test_an_out_of_range_argument_is_named(sqlite_operator: Operator) -> None:
    result = sqlite_operator.run("serve", "--port", "70000")
    assert result.returncode == 2 and "--port" in result.stderr and "Traceback" not in result.stderr


def test_wsgi_with_a_bad_setting_exits_with_one_line(sqlite_operator: Operator) -> None:
    sqlite_operator.env["AUTHSERVER_ENV"] = "production"
    sqlite_operator.env["AUTHSERVER_ISSUER"] = "http://auth.example.com"
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=sqlite_operator.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 2
    assert one_line_error(result).startswith("authserver: AUTHSERVER_ISSUER: must use https")


@pytest.mark.parametrize("keys", ["none", "world-readable"])
def test_production_refuses_to_serve_without_a_private_signing_key(
    new_database_url: Callable[[str], str], tmp_path: Path, warm: WarmAuthserver, keys: str
) -> None:
    url = new_database_url("postgresql")
    op = Operator(base_env(tmp_path, url), url, warm)
    op.ok("init")  # the CLI works without a key: init is what makes the first one
    keys_dir = Path(op.env["AUTHSERVER_KEYS_DIR"])
    for key_file in keys_dir.glob("*.json"):
        if keys == "none":
            key_file.unlink()
        else:
            key_file.chmod(0o644)
    op.env.update(
        AUTHSERVER_ENV="production",
        AUTHSERVER_ISSUER="https://auth.example.com",
        AUTHSERVER_SECRET_KEY="s" * 40,
    )
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=op.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
    )
    expected = "no active signing key" if keys == "none" else "is readable by others"
    assert result.returncode == 2
    reason = one_line_error(result).splitlines()[-1]  # after the key store's own log line
    assert reason.startswith("authserver: AUTHSERVER_KEYS_DIR: ") and expected in reason


# ---- serving --------------------------------------------------------------------------------


def wait_for(url: str, deadline: float = 30.0) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("server", ["serve", "gunicorn"])
def test_the_server_answers_health_discovery_and_jwks(initialized: Operator, server: str) -> None:
    port = free_port()
    if server == "serve":
        command = [sys.executable, "-m", "authserver", "serve", "--port", str(port)]
    else:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ]
    process = subprocess.Popen(
        command,
        env=initialized.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert json.loads(wait_for(base + "/healthz")) == {"status": "ok"}
        assert json.loads(wait_for(base + "/readyz"))["status"] == "ready"
        metadata = json.loads(wait_for(base + "/.well-known/openid-configuration"))
        assert metadata["issuer"] == "http://127.0.0.1:8000"
        jwks = json.loads(wait_for(base + "/jwks.json"))
        assert len(jwks["keys"]) == 1 and "d" not in jwks["keys"][0]
    finally:
        process.terminate()
        process.wait(timeout=20)


# ---- services -------------------------------------------------------------------------------


def test_init_syncs_the_auth_manifest(operator: Operator) -> None:
    assert "auth manifest: updated" in operator.ok("init")
    roles = operator.query("SELECT name FROM roles WHERE service = 'auth' ORDER BY name")
    assert roles == [("admin",), ("member",), ("owner",)]
    assert "auth manifest: up to date" in operator.ok("init")


def test_services_sync_applies_a_manifest_file(initialized: Operator, tmp_path: Path) -> None:
    manifest = tmp_path / "billing.json"
    manifest.write_text(
        json.dumps(
            {
                "service": "billing",
                "permissions": [{"resource": "invoice", "action": "read"}],
                "roles": [{"name": "viewer", "permissions": ["invoice:read"]}],
            }
        )
    )
    result = json.loads(initialized.ok("services", "sync", str(manifest)))
    assert result["created"] == {"permissions": ["invoice:read"], "roles": ["viewer"]}
    again = json.loads(initialized.ok("services", "sync", str(manifest)))
    assert again["unchanged"]["roles"] == ["viewer"]


def test_services_sync_refuses_the_servers_own_auth_manifest(
    operator: Operator, tmp_path: Path
) -> None:
    operator.ok("init")
    manifest = tmp_path / "auth.json"
    manifest.write_text(json.dumps({"service": "auth", "permissions": [], "roles": []}))
    result = operator.run("services", "sync", str(manifest))
    assert result.returncode == 2 and "belongs to the server" in one_line_error(result)
    roles = operator.query("SELECT name FROM roles WHERE service = 'auth' ORDER BY name")
    assert roles == [("admin",), ("member",), ("owner",)]


BILLING = {
    "service": "billing",
    "permissions": [{"resource": "invoice", "action": "read"}],
    "roles": [
        {"name": "viewer", "permissions": ["invoice:read"]},
        {"name": "clerk", "permissions": ["invoice:read"]},
    ],
}


def billing_held_by(operator: Operator, tmp_path: Path, *, members: int, teams: int) -> Path:
    """billing synced, its viewer role given to so many members and its clerk role to so
    many teams of one org; returns a manifest file that removes both roles."""
    declared, removing = tmp_path / "billing.json", tmp_path / "billing-without-roles.json"
    declared.write_text(json.dumps(BILLING))
    removing.write_text(json.dumps({**BILLING, "roles": []}))
    operator.ok("services", "sync", str(declared))
    app = create_app(make_settings(tmp_path, operator.database_url))
    with app.app_context():
        viewer, clerk = Role.find("billing", "viewer"), Role.find("billing", "clerk")
        org = make_org()
        for _ in range(members):
            make_member(org, make_user(), [viewer])
        for index in range(teams):
            team = make_team(org, slug=f"clerks-{index}")
            team.roles.append(clerk)
        db.session.commit()
        db.engine.dispose()
    return removing


@pytest.mark.parametrize(
    ("members", "teams", "words"),
    [
        (1, 2, "1 member role assignment and 2 team role assignments would be removed"),
        (2, 1, "2 member role assignments and 1 team role assignment would be removed"),
        (0, 1, "Error: 1 team role assignment would be removed"),
        (3, 0, "3 member role assignments would be removed"),
    ],
)
def test_services_sync_counts_member_and_team_assignments_it_would_remove(
    initialized: Operator, tmp_path: Path, members: int, teams: int, words: str
) -> None:
    removing = billing_held_by(initialized, tmp_path, members=members, teams=teams)
    result = initialized.run("services", "sync", str(removing))
    error = one_line_error(result)
    assert result.returncode == 1 and words in error, error
    assert "--prune-assignments" in error
    assert initialized.query("SELECT count(*) FROM roles WHERE service = 'billing'") == [(2,)]


def test_services_sync_prunes_member_and_team_assignments_when_told(
    initialized: Operator, tmp_path: Path
) -> None:
    removing = billing_held_by(initialized, tmp_path, members=1, teams=2)
    result = json.loads(initialized.ok("services", "sync", str(removing), "--prune-assignments"))
    assert result["removed"]["roles"] == ["clerk", "viewer"]
    assert result["pruned_assignments"] == 3


def test_no_client_can_be_bound_to_the_auth_service(initialized: Operator) -> None:
    result = initialized.run("clients", "create", "--name", "Mine", "--service", "auth")
    assert result.returncode == 2 and "--service" in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM oauth_clients") == [(0,)]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not JSON"),
        ('{"permissions": [], "roles": []}', "name its service"),
        ('{"service": "billing", "permissions": [], "roles": [], "x": 1}', "/x"),
    ],
    ids=["not-json", "no-service", "unknown-field"],
)
def test_services_sync_names_what_is_wrong(
    initialized: Operator, tmp_path: Path, content: str, words: str
) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_text(content)
    result = initialized.run("services", "sync", str(manifest))
    assert result.returncode == 2 and words in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM roles") == [(0,)]
