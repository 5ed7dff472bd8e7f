"""SQL statements per request, counted while the app answers each scenario's requests
in-process against the benchmark's PostgreSQL database: the ORM's through SQLAlchemy's
engine events, the token paths' plain SQL (authserver/oauth/store.py) through its observers.
A statement is one round trip; `writes` counts the INSERTs, UPDATEs and DELETEs in them
(one statement may carry several, in a WITH)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import event

from authserver.extensions import db
from authserver.oauth import store

WRITES = re.compile(r"\b(INSERT INTO|UPDATE \w+\s+SET|DELETE FROM)\b", re.IGNORECASE)


@dataclass
class Counts:
    statements: int = 0
    writes: int = 0
    transactions: int = 0
    sql: list[str] = field(default_factory=list)


@contextmanager
def counting(app: Flask) -> Iterator[Counts]:
    counts = Counts()
    with app.app_context():
        engine = db.engine

    def on_statement(statement: str) -> None:
        counts.statements += 1
        counts.sql.append(statement)
        counts.writes += len(WRITES.findall(statement))

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        on_statement(statement)

    def on_begin(conn) -> None:  # noqa: ANN001
        counts.transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    store.observers.append(on_statement)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
        store.observers.remove(on_statement)


def per_request(app: Flask, method: str, path: str, lines: list[tuple[str, str]]) -> Counts:
    """Send five requests through the test client, cycling through the lines; return the
    counts of the last one (the first ones warm caches, as a running worker's would be)."""
    http = app.test_client()
    last = Counts()
    for n in range(5):
        auth, body = lines[n % len(lines)]
        headers = {"Authorization": auth} if auth else {}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        with counting(app) as counts:
            response = http.open(path, method=method, data=body or None, headers=headers)
        if response.status_code >= 500:
            raise RuntimeError(f"{method} {path} answered {response.status_code}")
        last = counts
    return last
