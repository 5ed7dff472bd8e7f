"""The migration chain builds the schema, matches the models, and goes down cleanly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import Table, inspect

import authserver.models  # noqa: F401
from authserver import create_app
from authserver.extensions import db
from tests.conftest import BACKENDS, make_settings


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_builds_the_schema_without_drift_and_downgrade_removes_it(
    backend: str, new_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    app = create_app(make_settings(tmp_path, new_database_url(backend)))
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory)
        tables = set(inspect(db.engine).get_table_names())
        assert tables == set(db.metadata.tables) | {"alembic_version"}

        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(context, db.metadata) == []

        downgrade(directory=directory, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade(directory=directory)  # and back up again: the chain is repeatable
        assert set(inspect(db.engine).get_table_names()) >= set(db.metadata.tables)
        db.engine.dispose()


def test_every_foreign_key_and_token_hash_has_an_index() -> None:
    """A parent delete or a token lookup must never scan a whole table."""

    def indexed_prefixes(table: Table) -> set[tuple[str, ...]]:
        prefixes: set[tuple[str, ...]] = set()
        groups = [tuple(c.name for c in table.primary_key.columns)]
        groups += [
            tuple(c.name for c in index.columns)
            for index in table.indexes
            if index.dialect_options["postgresql"].get("where") is None
        ]
        groups += [
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if constraint.__class__.__name__ == "UniqueConstraint"
        ]
        groups += [(c.name,) for c in table.columns if c.unique or c.index]
        for group in groups:
            prefixes.update(group[:n] for n in range(1, len(group) + 1))
        return prefixes

    missing = []
    for table in db.metadata.tables.values():
        prefixes = indexed_prefixes(table)
        for fk in table.foreign_key_constraints:
            if tuple(c.name for c in fk.columns) not in prefixes:
                missing.append(f"{table.name}.{','.join(c.name for c in fk.columns)}")
        for column in table.columns:
            if column.name in ("token_hash", "code_hash") and (column.name,) not in prefixes:
                missing.append(f"{table.name}.{column.name}")
    assert missing == []
