"""After PostgreSQL dropped its connections (a restart, a failover, a proxy's idle timeout),
the first of the token paths' statements (authserver.oauth.store) to meet a dead pooled
connection has every connection the pool opened before it opened anew, as SQLAlchemy does
for the ORM's statements: one failed request per outage, not one per pooled connection."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy.exc import DBAPIError

from authserver.extensions import db
from authserver.oauth import store
from tests.postgres_restart import drop_app_connections

POOLED = 3  # connections in the pool when the database drops them


@pytest.fixture
def dropped(app: Flask) -> None:
    """The pool holds POOLED connections, all of which the database has just dropped."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connections to drop")
    db.session.remove()
    lent = [db.engine.raw_connection() for _ in range(POOLED)]
    for connection in lent:
        connection.close()  # back to the pool
    assert drop_app_connections() >= POOLED


def test_a_lone_read_that_meets_a_dropped_connection_renews_the_whole_pool(
    dropped: None,
) -> None:
    """Introspection's and /userinfo's path: a read in autocommit on a pooled connection."""
    with pytest.raises(DBAPIError) as failed:
        store.is_member(uuid.uuid4(), uuid.uuid4())
    assert failed.value.connection_invalidated  # a 503 (errors.py)
    for _ in range(POOLED):
        assert store.is_member(uuid.uuid4(), uuid.uuid4()) is False


def test_a_read_in_the_transaction_that_meets_a_dropped_connection_renews_the_whole_pool(
    dropped: None,
) -> None:
    """The refresh's and the code exchange's path: the locked read in the session's
    transaction."""
    with pytest.raises(DBAPIError) as failed:
        store.refresh_link_locked("0" * 64)
    assert failed.value.connection_invalidated
    db.session.rollback()  # as the request's teardown does
    for _ in range(POOLED):
        assert store.refresh_link_locked("0" * 64) is None
        db.session.rollback()
