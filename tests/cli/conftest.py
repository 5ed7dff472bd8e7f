"""The operator's shell for CLI tests: `authserver` run as a process of its own per command
(forked from a warm one, tests/cli/warm.py, unless a test asks for a fresh interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from authserver import create_app
from authserver.extensions import db
from tests.cli.warm import WarmAuthserver
from tests.conftest import BACKENDS, make_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Operator:
    """Runs `authserver` with one environment, like a shell with AUTHSERVER_* exported."""

    env: dict[str, str]
    database_url: str
    warm: WarmAuthserver

    def run(
        self, *args: str, stdin: str | None = None, fresh: bool = False
    ) -> subprocess.CompletedProcess[str]:
        if not fresh:
            return self.warm.run(list(args), self.env, PROJECT_ROOT, stdin, timeout=60)
        return subprocess.run(
            [sys.executable, "-m", "authserver", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=PROJECT_ROOT,
        )

    def ok(self, *args: str, stdin: str | None = None, fresh: bool = False) -> str:
        result = self.run(*args, stdin=stdin, fresh=fresh)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def query(self, sql: str, **params: object) -> list[tuple]:
        engine = create_engine(self.database_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()


def base_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUTHSERVER_")}
    env.update(
        AUTHSERVER_DATABASE_URL=database_url,
        AUTHSERVER_INSTANCE_DIR=str(tmp_path / "instance"),
        AUTHSERVER_KEYS_DIR=str(tmp_path / "keys"),
        AUTHSERVER_ISSUER="http://127.0.0.1:8000",
    )
    return env


@pytest.fixture(scope="session")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmAuthserver]:
    server = WarmAuthserver(tmp_path_factory.mktemp("warm"))
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def operator(
    request: pytest.FixtureRequest,
    new_database_url: Callable[[str], str],
    tmp_path: Path,
    warm: WarmAuthserver,
) -> Operator:
    url = new_database_url(request.param)
    return Operator(base_env(tmp_path, url), url, warm)


@pytest.fixture
def sqlite_operator(
    new_database_url: Callable[[str], str], tmp_path: Path, warm: WarmAuthserver
) -> Operator:
    """For behaviour that does not depend on the database backend."""
    url = new_database_url("sqlite")
    return Operator(base_env(tmp_path, url), url, warm)


@pytest.fixture
def initialized(operator: Operator, tmp_path: Path) -> Operator:
    """What `authserver init` leaves (tested on its own below), made in-process for speed."""
    app = create_app(make_settings(tmp_path, operator.database_url))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
        db.engine.dispose()
    return operator


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "expected an error line on stderr"
    return "\n".join(lines)
