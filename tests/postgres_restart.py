"""What a PostgreSQL restart does to the app's pooled connections, without restarting it."""

from __future__ import annotations

import psycopg

from authserver.extensions import db


def drop_app_connections() -> int:
    """PostgreSQL ends every connection to the app's database (the pool's included), as a
    restart or a failover would; how many it ended."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # not one of the pool's
        (dropped,) = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return dropped
