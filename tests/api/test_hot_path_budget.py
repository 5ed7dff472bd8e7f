"""The database work of the hot token paths, counted as the benchmark counts it
(benchmarks/statements.py, RESULTS.md): client_credentials writes nothing; a refresh
rotation and a code exchange each take one transaction of three round trips on PostgreSQL
(the locked lookup, the writes in one statement, the claims' memberships, roles and
permissions in one query), and SQLite sends the same writes one by one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from authserver.extensions import db
from authserver.models import User
from authserver.oauth import store
from authserver.oauth.client_cache import ClientCache
from benchmarks.scenarios import basic
from benchmarks.statements import Counts, counting
from tests.factories import (
    make_member,
    make_org,
    make_role,
    make_service,
    make_team,
    make_user,
)
from tests.oauth_helpers import (
    RegisteredClient,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    refresh,
    register_client,
)


@pytest.fixture
def cached_clients(app: Flask) -> Iterator[None]:
    """The client cache as production runs it (tests turn it off by default)."""
    original = app.extensions["authserver.client_cache"]
    app.extensions["authserver.client_cache"] = ClientCache(ttl=60)
    yield
    app.extensions["authserver.client_cache"] = original


@pytest.fixture
def person(app: Flask) -> User:
    """A member of two organizations holding roles, and of a team holding one, so the
    claims have work to do."""
    user = make_user()
    for name in ("viewer", "clerk"):
        org = make_org()
        member = make_member(org, user, [make_role(name=name)])
    team = make_team(org, roles=[make_role(name="payer")])
    team.members.append(member)
    db.session.commit()
    return user


@pytest.fixture
def web_client(app: Flask, cached_clients: None) -> RegisteredClient:
    return register_client()


def exchange_counts(
    app: Flask, http: FlaskClient, client: RegisteredClient, person: User
) -> tuple[Counts, dict]:
    verifier, challenge = pkce_pair()
    code = issue_code(client, person, challenge, scope="openid offline_access orgs")
    with counting(app) as counts:
        response = redeem(http, client, code, verifier)
    assert response.status_code == 200, response.json
    return counts, response.json


def test_client_credentials_reads_nothing_once_the_client_is_cached(
    app: Flask, http: FlaskClient, cached_clients: None
) -> None:
    make_service("billing")
    service = register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
    )
    form = {"grant_type": "client_credentials"}
    assert post_token(http, service, form).status_code == 200

    with counting(app) as counts:
        assert post_token(http, service, form).status_code == 200

    assert (counts.statements, counts.writes) == (0, 0)


def test_a_code_exchange_is_one_transaction_of_at_most_5_statements(
    app: Flask, http: FlaskClient, web_client: RegisteredClient, person: User
) -> None:
    exchange_counts(app, http, web_client, person)  # the client is now cached

    counts, tokens = exchange_counts(app, http, web_client, person)

    # the family, the code marked used, the first refresh token
    assert counts.transactions == 1 and counts.writes == 3, counts.sql
    assert counts.statements == round_trips(writes=3), counts.sql
    assert _membership_queries(counts) == 1


def test_a_refresh_rotation_is_one_transaction_of_at_most_5_statements(
    app: Flask, http: FlaskClient, web_client: RegisteredClient, person: User
) -> None:
    _, tokens = exchange_counts(app, http, web_client, person)

    with counting(app) as counts:
        response = refresh(http, web_client, tokens["refresh_token"])

    assert response.status_code == 200, response.json
    # the successor and the old link marked rotated
    assert counts.transactions == 1 and counts.writes == 2, counts.sql
    assert counts.statements == round_trips(writes=2), counts.sql
    assert _membership_queries(counts) == 1


def test_introspection_and_userinfo_read_the_family_once_and_the_claims_once(
    app: Flask, http: FlaskClient, web_client: RegisteredClient, person: User
) -> None:
    _, tokens = exchange_counts(app, http, web_client, person)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    with counting(app) as introspection:
        answer = http.post(
            "/introspect",
            data={"token": tokens["access_token"]},
            headers={"Authorization": basic(web_client.client_id, web_client.secret)},
        )
    assert answer.status_code == 200 and answer.json["active"] is True
    with counting(app) as userinfo:
        assert http.get("/userinfo", headers=bearer).status_code == 200

    assert (introspection.statements, introspection.writes) == (1, 0), introspection.sql
    assert (userinfo.statements, userinfo.writes) == (2, 0), userinfo.sql
    assert _membership_queries(userinfo) == 1
    # Lone reads run in autocommit: no BEGIN and COMMIT around them.
    assert introspection.transactions == userinfo.transactions == 0


def test_a_connection_lent_for_a_lone_read_goes_back_to_the_pool_transactional(
    app: Flask, http: FlaskClient, web_client: RegisteredClient, person: User
) -> None:
    _, tokens = exchange_counts(app, http, web_client, person)
    returned: list[bool] = []

    def on_checkin(driver_connection, record) -> None:  # noqa: ANN001
        returned.append(_autocommits(driver_connection))

    event.listen(db.engine, "checkin", on_checkin)
    try:
        assert (
            http.get(
                "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            ).status_code
            == 200
        )
    finally:
        event.remove(db.engine, "checkin", on_checkin)

    assert returned and not any(returned)


def test_a_read_inside_an_open_transaction_stays_in_it(app: Flask, person: User) -> None:
    """A request that has begun writing sees its own unwritten rows: a read then must not
    go to another connection."""
    org = make_org()
    make_member(org, person, [])
    db.session.flush()  # written in this transaction, not committed

    assert store.is_member(person.id, org.id)
    assert not _autocommits(db.session.connection().connection.driver_connection)


def _autocommits(driver_connection) -> bool:  # noqa: ANN001
    """psycopg's autocommit flag; sqlite3's is isolation_level None."""
    if isinstance(driver_connection, sqlite3.Connection):
        return driver_connection.isolation_level is None
    return driver_connection.autocommit


def round_trips(*, writes: int) -> int:
    """The lookup, the writes (one statement on PostgreSQL), the claims query."""
    return 2 + (1 if db.engine.dialect.name == "postgresql" else writes)


def _membership_queries(counts: Counts) -> int:
    return sum("organization_members" in sql for sql in counts.sql)
