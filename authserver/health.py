"""/healthz (the process answers) and /readyz (database, migrations and signing key ready)."""

from __future__ import annotations

from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from authserver.errors import driver_error_name
from authserver.extensions import db
from authserver.keys import KeyStoreError, current_key_store

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = {"database": _check_database(), "signing_key": _check_signing_key()}
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ready" if ready else "not ready", checks=checks)
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = "5"
    return response, 200 if ready else 503


@cache
def _head_revisions(directory: str) -> frozenset[str]:
    """The migration heads of this code; they do not change while the process runs."""
    config = current_app.extensions["migrate"].migrate.get_config(directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _check_database() -> str:
    try:
        current = _current_heads()
    except SQLAlchemyError as error:
        # One line, not a traceback: a load balancer polls this every few seconds.
        current_app.logger.warning(
            "readiness: database unreachable (%s)",
            driver_error_name(error),
        )
        return "unreachable"
    directory = current_app.extensions["migrate"].directory
    if current != _head_revisions(directory):
        return "migrations pending (run: authserver db upgrade)"
    return "ok"


def _current_heads() -> frozenset[str]:
    """The database's migration heads, asked a second time when the first ask met a
    pooled connection that had died (the database restarted, or a proxy dropped it, since
    it was last used). SQLAlchemy then drops every connection the pool held, so the second
    ask opens a new one: a connection left over from an outage that has ended says nothing
    about the database now, and must not mark a recovered instance not ready."""
    try:
        return _heads_on_a_pooled_connection()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    return _heads_on_a_pooled_connection()


def _heads_on_a_pooled_connection() -> frozenset[str]:
    with db.engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def _check_signing_key() -> str:
    try:
        current_key_store().signing_key()
    except KeyStoreError as error:
        return str(error)
    return "ok"
