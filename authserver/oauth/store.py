"""The token paths' reads and writes, as plain SQL run through the database driver.

Every /token, /introspect and /userinfo request runs a few statements. Through the ORM each
cost 0.2–0.4 ms of Python CPU even when prebuilt (benchmarks/RESULTS.md), more than
PostgreSQL spent running it; through the driver it costs a tenth of that. So the hot paths'
statements are written out here, each under a name (as Ory Hydra keeps its SQL), and give
plain frozen rows rather than ORM objects. They run on the ORM session's own connection, in
its transaction: what else a request writes through the ORM (an audit event, a revocation)
commits or rolls back with them, and the models stay the schema's one description. A read
that locks nothing, while the request has no transaction open, runs alone in autocommit
(see _read).

One text per statement serves both databases. What differs is in `_Codec`: how SQLite
holds a UUID, a time and a JSON list (SQLAlchemy's formats: 32 hex digits, naive UTC text,
JSON text) where PostgreSQL has native types; the row lock (`FOR UPDATE` on PostgreSQL;
SQLite has none, and its reads take no lock, so there the guard is the writes' last
UPDATE, conditional on the token or code being unused: see `_write`); and several writes
in one statement (PostgreSQL's data-modifying WITH, one round trip; SQLite runs them in
turn).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Dialect, PoolProxiedConnection
from sqlalchemy.exc import DBAPIError

from authserver.extensions import db

# ---------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True, slots=True)
class Person:
    """What a token needs of a person: the profile claims and whether they may sign in."""

    id: uuid.UUID
    is_active: bool
    display_name: str
    avatar_url: str | None
    email: str
    email_verified: bool


@dataclass(frozen=True, slots=True)
class GrantContext:
    """What families and codes both hold (models.grants.GrantContext)."""

    client_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    scope: str
    resources: list[str]
    auth_time: datetime
    auth_methods: list[str]


@dataclass(frozen=True, slots=True)
class Family(GrantContext):
    """A grant family (models.GrantFamily) with its person."""

    id: uuid.UUID
    expires_at: datetime
    revoked_at: datetime | None
    dpop_jkt: str | None
    user: Person

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class RefreshLink:
    """One refresh token (models.RefreshToken) with its family and person."""

    id: uuid.UUID
    client_id: uuid.UUID
    scope: str
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    successor_id: uuid.UUID | None
    successor_ciphertext: bytes | None
    family: Family

    @property
    def family_id(self) -> uuid.UUID:
        return self.family.id

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True, slots=True)
class Code(GrantContext):
    """An authorization code (models.AuthorizationCode) with its person; Authlib's grant
    reads it through get_redirect_uri, get_scope and the code_challenge fields."""

    id: uuid.UUID
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    expires_at: datetime
    used_at: datetime | None
    family_id: uuid.UUID | None
    user: Person

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


# ---------------------------------------------------------------------------------------
# The statements. Parameters are %(name)s; `t`, `f`, `c` and `u` are the aliases below.

_PERSON = "u.id, u.is_active, u.display_name, u.avatar_url, u.email, u.email_verified"
# The GrantContext columns (models.grants) of a family (f) or a code (c).
_CONTEXT = (
    "{t}.client_id, {t}.user_id, {t}.session_id, {t}.organization_id, {t}.scope,"
    " {t}.resources, {t}.auth_time, {t}.auth_methods"
)
_FAMILY = f"f.id, {_CONTEXT.format(t='f')}, f.expires_at, f.revoked_at, f.dpop_jkt"

REFRESH_LINK_LOCKED = f"""
SELECT t.id, t.client_id, t.scope, t.expires_at, t.rotated_at, t.revoked_at, t.successor_id,
       t.successor_ciphertext, {_FAMILY}, {_PERSON}
FROM refresh_tokens t
JOIN grant_families f ON f.id = t.family_id
JOIN users u ON u.id = f.user_id
WHERE t.token_hash = %(token_hash)s
FOR UPDATE OF t
"""

FAMILY_WITH_PERSON = f"""
SELECT {_FAMILY}, {_PERSON}
FROM grant_families f
JOIN users u ON u.id = f.user_id
WHERE f.id = %(family_id)s
"""

CODE_LOCKED = f"""
SELECT c.id, {_CONTEXT.format(t="c")}, c.redirect_uri, c.code_challenge,
       c.code_challenge_method, c.nonce, c.expires_at, c.used_at, c.family_id, {_PERSON}
FROM authorization_codes c
JOIN users u ON u.id = c.user_id
WHERE c.code_hash = %(code_hash)s
FOR UPDATE OF c
"""

INSERT_REFRESH_LINK = """
INSERT INTO refresh_tokens (id, token_hash, family_id, client_id, user_id, scope, created_at,
                            expires_at)
VALUES (%(id)s, %(token_hash)s, %(family_id)s, %(client_id)s, %(user_id)s, %(scope)s,
        %(created_at)s, %(expires_at)s)
"""

MARK_ROTATED = """
UPDATE refresh_tokens
SET rotated_at = %(rotated_at)s, successor_id = %(successor_id)s,
    successor_ciphertext = %(successor_ciphertext)s
WHERE id = %(id)s AND rotated_at IS NULL
"""

INSERT_FAMILY = """
INSERT INTO grant_families (id, client_id, user_id, session_id, organization_id, scope,
                            resources, auth_time, auth_methods, created_at, expires_at, dpop_jkt)
VALUES (%(id)s, %(client_id)s, %(user_id)s, %(session_id)s, %(organization_id)s, %(scope)s,
        %(resources)s, %(auth_time)s, %(auth_methods)s, %(created_at)s, %(expires_at)s,
        %(dpop_jkt)s)
"""

MARK_CODE_USED = """
UPDATE authorization_codes SET family_id = %(family_id)s, used_at = %(used_at)s
WHERE id = %(id)s AND used_at IS NULL
"""

IS_MEMBER = """
SELECT 1 FROM organization_members
WHERE user_id = %(user_id)s AND organization_id = %(organization_id)s
"""

# One row per (membership, role held directly) and per (membership, team, team role), each
# with the org's second-factor rule: a person's own roles and their teams' in one statement.
MEMBERSHIPS = """
SELECT o.id, o.slug, p.require_second_factor, NULL AS team, r.service, r.name,
       m.created_at AS joined
FROM organizations o
JOIN organization_members m ON m.organization_id = o.id
LEFT JOIN mfa_organization_policies p ON p.organization_id = o.id
LEFT JOIN member_roles mr ON mr.member_id = m.id
LEFT JOIN roles r ON r.id = mr.role_id
WHERE m.user_id = %(user_id)s
UNION ALL
SELECT o.id, o.slug, p.require_second_factor, tm.slug, r.service, r.name, m.created_at
FROM organizations o
JOIN organization_members m ON m.organization_id = o.id
LEFT JOIN mfa_organization_policies p ON p.organization_id = o.id
JOIN team_members tmm ON tmm.member_id = m.id
JOIN teams tm ON tm.id = tmm.team_id
LEFT JOIN team_roles tr ON tr.team_id = tm.id
LEFT JOIN roles r ON r.id = tr.role_id
WHERE m.user_id = %(user_id)s
ORDER BY joined, slug
"""

# The org-scoped claims of one membership: its own roles with their permissions, and each
# team's, with the org's second-factor rule.
MEMBERSHIP = """
SELECT o.slug, p.require_second_factor, r.service, r.name, pe.resource, pe.action,
       NULL AS team
FROM organizations o
JOIN organization_members m ON m.organization_id = o.id
LEFT JOIN mfa_organization_policies p ON p.organization_id = o.id
LEFT JOIN member_roles mr ON mr.member_id = m.id
LEFT JOIN roles r ON r.id = mr.role_id
LEFT JOIN role_permissions rp ON rp.role_id = r.id
LEFT JOIN permissions pe ON pe.id = rp.permission_id
WHERE o.id = %(organization_id)s AND m.user_id = %(user_id)s
UNION ALL
SELECT o.slug, p.require_second_factor, r.service, r.name, pe.resource, pe.action, tm.slug
FROM organizations o
JOIN organization_members m ON m.organization_id = o.id
LEFT JOIN mfa_organization_policies p ON p.organization_id = o.id
JOIN team_members tmm ON tmm.member_id = m.id
JOIN teams tm ON tm.id = tmm.team_id
LEFT JOIN team_roles tr ON tr.team_id = tm.id
LEFT JOIN roles r ON r.id = tr.role_id
LEFT JOIN role_permissions rp ON rp.role_id = r.id
LEFT JOIN permissions pe ON pe.id = rp.permission_id
WHERE o.id = %(organization_id)s AND m.user_id = %(user_id)s
"""


# ---------------------------------------------------------------------------------------
# The two databases


class _Codec:
    """PostgreSQL through psycopg: native UUID, timestamptz and jsonb; the text as written."""

    name = "postgresql"

    def sql(self, text: str) -> str:
        return text

    def lock(self, driver: Any) -> None:
        """Before a locked read: nothing to do, its FOR UPDATE locks the rows it reads."""

    @contextmanager
    def autocommit(self, driver: Any) -> Iterator[None]:
        """psycopg sends BEGIN before the first statement unless in autocommit; the flag is
        a client-side setting (no round trip), put back before the connection is."""
        driver.autocommit = True
        try:
            yield
        finally:
            if not driver.closed:  # one the database dropped is discarded, not reused
                driver.autocommit = False

    def together(self, writes: Sequence[tuple[str, dict[str, Any]]]) -> list:
        """Several writes as one statement: each but the last in a data-modifying WITH.
        Foreign keys between them hold: PostgreSQL checks them at the statement's end."""
        if len(writes) == 1:
            return list(writes)
        params = {
            f"w{n}_{key}": value
            for n, (_, values) in enumerate(writes)
            for key, value in values.items()
        }
        return [(_with_clause(tuple(text for text, _ in writes)), params)]

    def uuid(self, value: uuid.UUID | None) -> Any:
        return value

    def time(self, value: datetime | None) -> Any:
        return _utc(value)

    def json(self, value: list[str]) -> Any:
        return Jsonb(value)

    def read_uuid(self, value: Any) -> uuid.UUID | None:
        return value

    def read_time(self, value: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def read_json(self, value: Any) -> list[str]:
        return value


class _SQLiteCodec(_Codec):
    """SQLite through sqlite3, in the formats SQLAlchemy's column types write there."""

    name = "sqlite"
    _TIME = "%Y-%m-%d %H:%M:%S.%f"

    def sql(self, text: str) -> str:
        text = re.sub(r"\bFOR UPDATE OF \w+\s*$", "", text)
        return re.sub(r"%\((\w+)\)s", r":\1", text)

    @contextmanager
    def autocommit(self, driver: Any) -> Iterator[None]:
        """sqlite3 begins a transaction only before a write: a read is alone already."""
        yield

    def lock(self, driver: Any) -> None:
        """SQLite has no row locks, and sqlite3 begins a transaction only before a write,
        so a read takes no lock at all. BEGIN IMMEDIATE takes the database's write lock
        now: a concurrent refresh or redemption waits for this one to commit and then
        reads the token or code as used, as PostgreSQL's FOR UPDATE makes it. (Inside a
        transaction that has written, the lock is held already.)"""
        if not driver.in_transaction:
            driver.execute("BEGIN IMMEDIATE")

    def together(self, writes: Sequence[tuple[str, dict[str, Any]]]) -> list:
        return list(writes)

    def uuid(self, value: uuid.UUID | None) -> Any:
        return value.hex if value is not None else None

    def time(self, value: datetime | None) -> Any:
        return _utc(value).strftime(self._TIME) if value is not None else None

    def json(self, value: list[str]) -> Any:
        return json.dumps(value)

    def read_uuid(self, value: Any) -> uuid.UUID | None:
        return uuid.UUID(hex=value) if value is not None else None

    def read_time(self, value: Any) -> datetime | None:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value is not None else None

    def read_json(self, value: Any) -> list[str]:
        return json.loads(value) if value is not None else []


_CODECS = {"postgresql": _Codec(), "sqlite": _SQLiteCodec()}


@functools.cache
def _with_clause(texts: tuple[str, ...]) -> str:
    """The writes as one statement, each statement's parameters prefixed w<n>_; built once
    per set of statements, not per request."""
    parts = [re.sub(r"%\((\w+)\)s", rf"%(w{n}_\1)s", text.strip()) for n, text in enumerate(texts)]
    ctes = ", ".join(f"w{n} AS ({part})" for n, part in enumerate(parts[:-1]))
    return f"WITH {ctes} {parts[-1]}"


def _utc(value: datetime | None) -> Any:
    """As models.base.UTCDateTime: a naive time is refused, never read as local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetimes are refused: use authserver.clock.utcnow()")
    return value.astimezone(UTC)


@functools.cache
def _text(codec: _Codec, statement: str) -> str:
    return codec.sql(statement)


def _connection() -> tuple[Connection, _Codec]:
    """The session's connection (in its transaction) and its codec. What the session holds
    unwritten is flushed first, as the ORM's autoflush would."""
    db.session.flush()
    connection = db.session.connection()
    return connection, _CODECS[connection.dialect.name]


# Callables told each statement's text as it is sent: benchmarks/statements.py counts the
# store's statements with them, as it counts the ORM's through SQLAlchemy's events.
observers: list[Callable[[str], None]] = []


def _execute(connection: Connection, text: str, params: dict[str, Any], fetch: str) -> Any:
    """Run one statement on the session connection's DB-API connection (see _run)."""
    return _run(connection, connection.dialect, text, params, fetch)


def _run(
    connection: Connection | PoolProxiedConnection,
    dialect: Dialect,
    text: str,
    params: dict[str, Any],
    fetch: str,
) -> Any:
    """Run one statement on the DB-API connection; `fetch` is "one", "all" or "none" (the
    count of rows it changed).

    A driver error is raised as SQLAlchemy raises it (OperationalError and the others, so
    that an outage is a 503, errors.py), and a connection the database dropped is
    invalidated with every connection the pool opened before it, as SQLAlchemy does for its
    own statements."""
    for observe in observers:
        observe(text)
    driver = _driver(connection)
    try:
        cursor = driver.execute(text, params)
        if fetch == "one":
            return cursor.fetchone()
        return cursor.fetchall() if fetch == "all" else cursor.rowcount
    except dialect.loaded_dbapi.Error as error:
        dropped = dialect.is_disconnect(error, driver, None)
        if dropped:
            _invalidate_pool(connection, error)
        raise _as_sqlalchemy_error(error, dialect, text, params, dropped) from error


def _invalidate_pool(connection: Connection | PoolProxiedConnection, error: Exception) -> None:
    """A database that dropped this connection (a restart, a failover, a proxy's idle
    timeout) has most likely dropped every other the pool holds: each is opened anew at its
    next checkout, so that the outage costs one failed request, not one per pooled
    connection. This is what SQLAlchemy's Connection does on a disconnect
    (_handle_dbapi_exception calls Pool._invalidate); the store's statements run on the
    DB-API connection, past that handler, hence the private call."""
    db.engine.pool._invalidate(_pooled(connection), error, _checkin=False)
    connection.invalidate(error)


def _as_sqlalchemy_error(
    error: Exception, dialect: Dialect, text: str | None, params: Any, dropped: bool
) -> DBAPIError:
    return DBAPIError.instance(
        text,
        params,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,  # token and code hashes stay out of logged tracebacks
        connection_invalidated=dropped,
        dialect=dialect,
    )


def _one(statement: str, params: dict[str, Any]) -> tuple[tuple | None, _Codec]:
    return _read(statement, params, "one")


def _all(statement: str, params: dict[str, Any]) -> tuple[list[tuple], _Codec]:
    return _read(statement, params, "all")


def _read(statement: str, params: dict[str, Any], fetch: str) -> tuple[Any, _Codec]:
    """Run a SELECT: a locked one, or any while the session has a transaction open, in the
    session's transaction; any other on a pooled connection in autocommit.

    A lone read needs no transaction: at READ COMMITTED (our level) a statement sees what
    was committed when it started, in a transaction or not. On PostgreSQL that makes
    introspection and /userinfo one round trip per statement instead of BEGIN, the
    statements and COMMIT, and spares the session's transaction bookkeeping. A request that
    later writes opens its transaction then, as before."""
    if "FOR UPDATE" in statement or db.session().in_transaction():
        return _read_in_session(statement, params, fetch)
    return _read_alone(statement, params, fetch)


def _read_in_session(statement: str, params: dict[str, Any], fetch: str) -> tuple[Any, _Codec]:
    connection, codec = _connection()
    if "FOR UPDATE" in statement:
        codec.lock(connection.connection.driver_connection)
    return _execute(connection, _text(codec, statement), _bind(codec, params), fetch), codec


def _read_alone(statement: str, params: dict[str, Any], fetch: str) -> tuple[Any, _Codec]:
    """On a pooled connection of its own, in autocommit, given back at once."""
    engine = db.engine
    codec = _CODECS[engine.dialect.name]
    try:
        lent = engine.raw_connection()  # a pooled connection, without SQLAlchemy's Connection
    except engine.dialect.loaded_dbapi.Error as error:  # the pool could not connect
        raise _as_sqlalchemy_error(error, engine.dialect, None, None, False) from error
    try:
        with codec.autocommit(lent.driver_connection):
            text = _text(codec, statement)
            return _run(lent, engine.dialect, text, _bind(codec, params), fetch), codec
    finally:
        lent.close()  # back to the pool


def _pooled(connection: Connection | PoolProxiedConnection) -> PoolProxiedConnection:
    return connection.connection if isinstance(connection, Connection) else connection


def _driver(connection: Connection | PoolProxiedConnection) -> Any:
    return _pooled(connection).driver_connection


class LostRace(Exception):
    """The row that writes were conditional on changed since it was read: another request
    used the token or code first. Nothing the writes did may be kept: roll back."""


def _write(*writes: tuple[str, dict[str, Any]]) -> None:
    """Run the writes in order, in one statement where the database allows it. The last
    is the UPDATE that uses the token or code, conditional on its being unused: changing
    no row is LostRace. PostgreSQL's row lock already rules that out; on SQLite, whose
    reads take no lock, it is the guard (two callers read, the second writer loses)."""
    connection, codec = _connection()
    texts = [(_text(codec, statement), _bind(codec, params)) for statement, params in writes]
    changed = 0
    for text, params in codec.together(texts):
        changed = _execute(connection, text, params, "none")
    if changed == 0:
        raise LostRace()


def _bind(codec: _Codec, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters in the database's formats, by their Python type."""
    return {key: _bound(codec, value) for key, value in params.items()}


def _bound(codec: _Codec, value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return codec.uuid(value)
    if isinstance(value, datetime):
        return codec.time(value)
    if isinstance(value, list):
        return codec.json(value)
    return value


# ---------------------------------------------------------------------------------------
# Reading


def _person(row: Sequence[Any], codec: _Codec) -> Person:
    return Person(codec.read_uuid(row[0]), bool(row[1]), row[2], row[3], row[4], bool(row[5]))


def _grant_context(row: Sequence[Any], codec: _Codec) -> dict[str, Any]:
    """The GrantContext columns (models.grants) that families and codes share, in the order
    _CONTEXT selects them."""
    return {
        "client_id": codec.read_uuid(row[0]),
        "user_id": codec.read_uuid(row[1]),
        "session_id": codec.read_uuid(row[2]),
        "organization_id": codec.read_uuid(row[3]),
        "scope": row[4],
        "resources": codec.read_json(row[5]),
        "auth_time": codec.read_time(row[6]),
        "auth_methods": codec.read_json(row[7]),
    }


def _family(row: Sequence[Any], codec: _Codec) -> Family:
    return Family(
        id=codec.read_uuid(row[0]),
        **_grant_context(row[1:9], codec),
        expires_at=codec.read_time(row[9]),
        revoked_at=codec.read_time(row[10]),
        dpop_jkt=row[11],
        user=_person(row[12:], codec),
    )


def refresh_link_locked(token_hash: str) -> RefreshLink | None:
    """The refresh token with this SHA-256, its family and person, row-locked until the
    transaction ends: two concurrent refreshes of one token must not fork its family."""
    row, codec = _one(REFRESH_LINK_LOCKED, {"token_hash": token_hash})
    if row is None:
        return None
    return RefreshLink(
        id=codec.read_uuid(row[0]),
        client_id=codec.read_uuid(row[1]),
        scope=row[2],
        expires_at=codec.read_time(row[3]),
        rotated_at=codec.read_time(row[4]),
        revoked_at=codec.read_time(row[5]),
        successor_id=codec.read_uuid(row[6]),
        successor_ciphertext=bytes(row[7]) if row[7] is not None else None,
        family=_family(row[8:], codec),
    )


def family_with_person(family_id: uuid.UUID) -> Family | None:
    row, codec = _one(FAMILY_WITH_PERSON, {"family_id": family_id})
    return _family(row, codec) if row is not None else None


def code_locked(code_hash: str) -> Code | None:
    """The authorization code with this SHA-256 and its person, row-locked: of two
    concurrent redemptions exactly one wins."""
    row, codec = _one(CODE_LOCKED, {"code_hash": code_hash})
    if row is None:
        return None
    return Code(
        id=codec.read_uuid(row[0]),
        **_grant_context(row[1:9], codec),
        redirect_uri=row[9],
        code_challenge=row[10],
        code_challenge_method=row[11],
        nonce=row[12],
        expires_at=codec.read_time(row[13]),
        used_at=codec.read_time(row[14]),
        family_id=codec.read_uuid(row[15]),
        user=_person(row[16:], codec),
    )


def is_member(user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    row, _ = _one(IS_MEMBER, {"user_id": user_id, "organization_id": organization_id})
    return row is not None


@dataclass(frozen=True, slots=True)
class MembershipRow:
    org_id: uuid.UUID
    slug: str
    requires_factor: bool
    team: str | None
    service: str | None
    name: str | None


def membership_rows(user_id: uuid.UUID) -> list[MembershipRow]:
    """MEMBERSHIPS' rows, oldest membership first."""
    rows, codec = _all(MEMBERSHIPS, {"user_id": user_id})
    return [MembershipRow(codec.read_uuid(r[0]), r[1], bool(r[2]), *r[3:6]) for r in rows]


@dataclass(frozen=True, slots=True)
class RoleRow:
    slug: str
    requires_factor: bool
    service: str | None
    name: str | None
    resource: str | None
    action: str | None
    team: str | None


def role_rows(user_id: uuid.UUID, organization_id: uuid.UUID) -> list[RoleRow]:
    """MEMBERSHIP's rows for one membership; none when the person is not a member."""
    rows, _ = _all(MEMBERSHIP, {"user_id": user_id, "organization_id": organization_id})
    return [RoleRow(r[0], bool(r[1]), *r[2:]) for r in rows]


# ---------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True, slots=True)
class NewLink:
    """A refresh token to insert: the first of a family, or a rotation's successor."""

    id: uuid.UUID
    token_hash: str
    family_id: uuid.UUID
    client_id: uuid.UUID
    user_id: uuid.UUID
    scope: str
    created_at: datetime
    expires_at: datetime


def _link_values(link: NewLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "token_hash": link.token_hash,
        "family_id": link.family_id,
        "client_id": link.client_id,
        "user_id": link.user_id,
        "scope": link.scope,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
    }


def insert_link(link: NewLink) -> None:
    connection, codec = _connection()
    text = _text(codec, INSERT_REFRESH_LINK)
    _execute(connection, text, _bind(codec, _link_values(link)), "none")


def rotate(old_id: uuid.UUID, successor: NewLink, sealed: bytes, now: datetime) -> None:
    """Insert the successor and mark the old link rotated to it, in one round trip where
    the database allows; LostRace if the old link was rotated meanwhile."""
    _write(
        (INSERT_REFRESH_LINK, _link_values(successor)),
        (
            MARK_ROTATED,
            {
                "id": old_id,
                "successor_id": successor.id,
                "successor_ciphertext": sealed,
                "rotated_at": now,
            },
        ),
    )


def redeem_code(code_id: uuid.UUID, family: Family, link: NewLink | None, now: datetime) -> None:
    """Start the family, insert its first refresh token if any, and mark the code used by
    it: one round trip where the database allows; LostRace if the code was used meanwhile."""
    columns = {
        "id": family.id,
        "client_id": family.client_id,
        "user_id": family.user_id,
        "session_id": family.session_id,
        "organization_id": family.organization_id,
        "scope": family.scope,
        "resources": family.resources,
        "auth_time": family.auth_time,
        "auth_methods": family.auth_methods,
        "created_at": now,
        "expires_at": family.expires_at,
        "dpop_jkt": family.dpop_jkt,
    }
    writes = [(INSERT_FAMILY, columns)]
    if link is not None:
        writes.append((INSERT_REFRESH_LINK, _link_values(link)))
    writes.append((MARK_CODE_USED, {"id": code_id, "family_id": family.id, "used_at": now}))
    _write(*writes)
