"""The CLI on a database it cannot use and on input it cannot read: one line on stderr and a
non-zero exit, never a traceback, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Operator, one_line_error

MANIFEST = {"service": "billing", "description": "Bills", "permissions": [], "roles": []}
RUN_INIT = "run `authserver init`"

# Commands that read or write the database, each as an operator would type it.
DATABASE_COMMANDS = [
    ("clients", "list"),
    ("clients", "create", "--name", "App", "--redirect-uri", "https://app.example.com/cb"),
    ("users", "create", "--email", "a@example.com", "--name", "A", "--password-stdin"),
    ("users", "disable", "a@example.com"),
    ("audit", "tail"),
    ("cleanup",),
    ("demo", "setup"),
    ("services", "sync", "{manifest}"),
]


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    return path


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_every_command_on_an_unmigrated_database_says_to_run_init(
    operator: Operator, manifest_file: Path, command: tuple[str, ...]
) -> None:
    args = [word.format(manifest=manifest_file) for word in command]
    result = operator.run(*args, stdin="a long enough password\n")
    assert result.returncode == 2
    assert one_line_error(result) == (
        "authserver: AUTHSERVER_DATABASE_URL: the database has no authserver schema, "
        f"or an older one; {RUN_INIT}"
    )


def test_a_command_on_an_older_schema_says_to_run_init(operator: Operator) -> None:
    operator.ok("db", "upgrade", "0001")  # before pending_authorizations (0002)
    result = operator.run("cleanup")
    assert result.returncode == 2 and RUN_INIT in one_line_error(result)


def test_a_database_that_does_not_exist_stops_with_one_line(operator: Operator) -> None:
    if not operator.database_url.startswith("postgresql"):
        pytest.skip("SQLite makes the file")
    operator.env["AUTHSERVER_DATABASE_URL"] = operator.database_url + "_missing"
    result = operator.run("clients", "list")
    assert result.returncode == 2
    assert one_line_error(result).startswith(
        "authserver: AUTHSERVER_DATABASE_URL: cannot use the database"
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"service": "billing", "description": "caf\xe9"}', "not UTF-8"),
        (b"\xff\xfe{}", "not UTF-8"),
        (json.dumps({**MANIFEST, "description": "a\x00b"}).encode(), "NUL"),
        (json.dumps({**MANIFEST, "description": "\ud800"}).encode(), "lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"service": "billing", "n": ' + b"9" * 5000 + b"}", "not JSON"),
    ],
    ids=["latin-1", "utf-16-bom", "nul", "surrogate", "too-deep", "huge-number"],
)
def test_a_manifest_file_that_is_not_storable_json_is_one_line(
    initialized: Operator, tmp_path: Path, content: bytes, words: str
) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_bytes(content)
    result = initialized.run("services", "sync", str(manifest))
    assert result.returncode == 2 and words in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM roles") == [(0,)]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_manifest_file_that_cannot_be_opened_is_one_line(
    sqlite_operator: Operator, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "nothing.json"
    if kind == "directory":
        path.mkdir()
    result = sqlite_operator.run("services", "sync", str(path))
    assert result.returncode == 2 and "MANIFEST_FILE" in one_line_error(result)


def test_an_argument_that_is_not_utf8_is_one_line(initialized: Operator) -> None:
    # "\udcff" is how Python hands over the byte 0xFF of a non-UTF-8 argument (PEP 383);
    # subprocess turns it back into that byte, for a fresh interpreter to decode.
    result = initialized.run(
        "users", "create", "--email", "\udcff@example.com", "--name", "A", "--password-stdin",
        stdin="a long enough password\n", fresh=True,
    )  # fmt: skip
    assert result.returncode == 2 and "not UTF-8" in one_line_error(result)
    assert initialized.query("SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize(
    "args",
    [("serve", "--port", "٨٠٨٠"), ("serve", "--port", "8_080"), ("audit", "tail", "-n", "²")],
    ids=["arabic-indic", "underscore", "superscript"],
)
def test_number_options_take_ascii_digits_only(
    sqlite_operator: Operator, args: tuple[str, ...]
) -> None:
    result = sqlite_operator.run(*args)
    assert result.returncode == 2 and "is not a whole number" in one_line_error(result)
