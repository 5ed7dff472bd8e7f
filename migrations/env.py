"""Alembic environment: runs migrations against the app's engine and the models' metadata."""

from __future__ import annotations

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from flask import current_app

import authserver.models  # noqa: F401  (registers every table on the metadata)
from authserver.extensions import db

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | bool:
    """Render our column types as plain SQLAlchemy ones: a revision must not import the app."""
    from authserver.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, sa.JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


CONFIGURE_OPTIONS = {
    "render_item": _render_item,
    "target_metadata": db.metadata,
    "compare_type": True,
    "compare_server_default": True,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    "render_as_batch": True,
}


def _skip_empty_autogenerate(
    context_: MigrationContext, revision: object, directives: list[MigrationScript]
) -> None:
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("no changes in the models, no revision written")


def run_migrations_offline() -> None:
    context.configure(
        url=current_app.config["SQLALCHEMY_DATABASE_URI"], literal_binds=True, **CONFIGURE_OPTIONS
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            process_revision_directives=_skip_empty_autogenerate,
            **CONFIGURE_OPTIONS,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
