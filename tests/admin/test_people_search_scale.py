"""People search on 100,000 people: index range scans on PostgreSQL that read no more rows
than a page shows.

These are checks of plans and rows read, not of time: the time a search takes belongs to a
benchmark, where a busy machine cannot fail a test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

from authserver.extensions import db
from authserver.models import User
from authserver.models.users import like_prefix

PEOPLE = 100_000
# A page shows 50 people and asks for one more (is there a next page?); ordering name matches
# by name, then email, an incremental sort reads one row past its last group.
MOST_ROWS_READ = 50 + 1 + 1
# Where a prefix matches only a few hundred names (1/256 of everyone for "name 3f"), the planner
# may sort that whole index range instead: still a range, never the table.
SMALL_RANGE = 1_000


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the pattern indexes and their plans are PostgreSQL's")


@pytest.fixture
def many_people(app: Flask, postgres_only: None) -> None:
    db.session.execute(
        text(
            "INSERT INTO users (id, email, email_verified, display_name, is_active,"
            " created_at, updated_at)"
            " SELECT gen_random_uuid(), 'person' || n || '@example' || (n % 97) || '.com', true,"
            " 'Name ' || md5(n::text), true, now(), now()"
            " FROM generate_series(1, :people) AS n"
        ),
        {"people": PEOPLE},
    )
    db.session.commit()
    db.session.execute(text("ANALYZE users"))


def plan_of(query: str, part: str) -> str:
    """EXPLAIN of a statement User.search runs, its parameters inlined as the planner
    sees them (a custom plan)."""
    statement = User.search_statement(query, part, 0, 50)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    sql = str(compiled).replace("%%", "%")  # literal binds are escaped for the driver
    return "\n".join(row[0] for row in db.session.execute(text(f"EXPLAIN {sql}")).all())


# Filling 100,000 rows costs seconds: each test below checks every query on one filling.
PLANS = [
    ("person4242", "email", "ix_users_email_prefix"),
    ("person9", "email", "ix_users_email_prefix"),  # 11% of everyone, all at the end
    ("name 3f2", "name", "ix_users_name_prefix"),
    ("n", "name", "ix_users_name_prefix"),  # everyone
]
SEARCHES = ["person4242", "name 3f", "person9", "p", "n", ""]


def test_the_search_reads_its_indexes_never_scanning_the_table(many_people: None) -> None:
    for query, part, index in PLANS:
        plan = plan_of(query, part)
        assert f"Index Scan using {index}" in plan and "Seq Scan" not in plan, plan


@contextmanager
def statements_run() -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on `users` run inside the block, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and " users" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def rows_read_from_users(statement: str, parameters: Any) -> list[tuple[str, int]]:
    """Each plan node that reads `users`, with the rows it actually read (EXPLAIN ANALYZE):
    those it passed on and those its filter dropped."""
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
        (document,) = cursor.fetchone()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return [
        (
            node["Node Type"],
            (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"],
        )
        for node in plan_nodes(plan)
        if node.get("Relation Name") == "users"
    ]


def matching(query: str) -> int:
    """How many people's email or name starts with `query`."""
    count = text(
        "SELECT count(*) FROM users WHERE email LIKE :p ESCAPE '\\'"
        " OR lower(display_name) LIKE :p ESCAPE '\\'"
    )
    return db.session.scalar(count, {"p": like_prefix(query.lower())})


def test_the_people_page_reads_one_page_of_rows_through_indexes_on_100000_people(
    many_people: None,
    console,
    root: User,  # noqa: ANN001
) -> None:
    http = console(root)
    for query in SEARCHES:
        with statements_run() as seen:
            page = http.get("/admin/people", query_string={"q": query})
        assert page.status_code == 200
        searches = [(sql, params) for sql, params in seen if "LIMIT" in sql.upper()]
        most = MOST_ROWS_READ if matching(query) > SMALL_RANGE else SMALL_RANGE
        assert searches, f"{query!r}: the page ran no search"
        for statement, parameters in searches:
            for node, rows in rows_read_from_users(statement, parameters):
                assert node != "Seq Scan", f"{query!r}: {statement}"
                assert rows <= most, f"{query!r}: {node} read {rows} rows: {statement}"


def test_later_pages_continue_with_name_matches_after_the_email_matches(
    many_people: None,
) -> None:
    db.session.execute(
        text("UPDATE users SET display_name = 'Person99 ' || email WHERE email LIKE 'person1%'")
    )
    every = User.search("person99", limit=2000)
    assert every[0].email.startswith("person99") and not every[-1].email.startswith("person99")
    pages = [User.search("person99", offset=offset) for offset in range(0, 2000, 50)]
    assert [u.id for page in pages for u in page] == [u.id for u in every]
