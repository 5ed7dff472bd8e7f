"""API keys: made through /api/v1 (shown once, stored hashed), exchanged at /token with RFC
8693 for a short-lived JWT that a resource server verifies with our JWKS; revoked or
expired keys stop at once; last use is written at most once a minute; use is throttled."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.credentials import api_keys, exchange
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import ApiKey, AuditEvent
from authserver.models.clients import TOKEN_EXCHANGE
from benchmarks.statements import counting
from tests.api.conftest import Person, assert_problem, join
from tests.api.test_org_races import at_once
from tests.factories import make_permission, make_role
from tests.oauth_helpers import (
    RegisteredClient,
    post_token,
    register_client,
    verify_as_resource_server,
)

API_KEY_TYPE = "urn:authserver:params:oauth:token-type:api-key"


@pytest.fixture
def script(app: Flask) -> RegisteredClient:
    """A command-line tool: a public client allowed only the token exchange."""
    return register_client(public=True, grant_types=[TOKEN_EXCHANGE], redirect_uris=[])


@pytest.fixture
def billing_roles(api: None) -> None:
    make_role("billing", "payer", permissions=[make_permission("billing", "invoice", "pay")])
    db.session.commit()


def exchange_key(http: FlaskClient, client: RegisteredClient, key: str, **extra: str):  # noqa: ANN201
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": key,
        "subject_token_type": API_KEY_TYPE,
        **extra,
    }
    return post_token(http, client, form)


def org_key(owner: Person, org: dict, **body: object) -> dict:
    response = owner.call("POST", f"/{org['id']}/api-keys", {"name": "CI", **body})
    assert response.status_code == 201, response.json
    return response.json


def personal_key(person: Person, **body: object) -> dict:
    response = person.http.post(
        "/api/v1/api-keys",
        json={"name": "laptop", **body},
        headers={"Authorization": f"Bearer {person.token}"},
    )
    assert response.status_code == 201, response.json
    return response.json


def test_an_org_key_becomes_a_jwt_with_its_teams_roles_that_a_service_verifies(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient, billing_roles: None
) -> None:
    team = owner.call(
        "POST",
        f"/{org['id']}/teams",
        {"name": "Payments", "slug": "payments", "roles": ["billing:payer"]},
    ).json
    created = org_key(owner, org, roles=["billing:viewer"], teams=[team["id"]])
    assert created["key"].startswith("ask_live_") and created["key"].startswith(created["prefix"])

    response = exchange_key(http, script, created["key"], resource="billing")

    assert response.status_code == 200, response.json
    assert response.json["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    claims = verify_as_resource_server(http, response.json["access_token"], "billing").claims
    assert (claims["sub"], claims["sub_kind"], claims["org_slug"]) == (
        org["id"],
        "organization",
        "acme",
    )
    assert claims["roles"] == ["billing:payer", "billing:viewer"]
    assert claims["permissions"] == ["billing:invoice:pay"]
    assert claims["teams"] == ["payments"]
    assert claims["act"] == {"sub": created["id"], "sub_kind": "api_key"}
    assert claims["api_key"] == {"id": created["id"], "prefix": created["prefix"], "name": "CI"}


def test_a_personal_key_acts_for_the_person_with_their_orgs(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient
) -> None:
    created = personal_key(owner)

    response = exchange_key(http, script, created["key"])

    assert response.status_code == 200, response.json
    claims = verify_as_resource_server(http, response.json["access_token"], script.client_id).claims
    assert (claims["sub"], claims["sub_kind"]) == (str(owner.user.id), "person")
    assert claims["act"]["sub"] == created["id"] and claims["scope"] == "orgs"
    assert [o["slug"] for o in claims["orgs"]] == ["acme"]
    assert "refresh_token" not in response.json and "id_token" not in response.json


def test_a_key_token_is_refused_by_our_own_api(
    http: FlaskClient, owner: Person, script: RegisteredClient
) -> None:
    """A key reads nothing of /api/v1: that needs a person's own sign-in (a grant family)."""
    token = exchange_key(http, script, personal_key(owner)["key"]).json["access_token"]
    assert_problem(http.get("/api/v1/orgs", headers={"Authorization": f"Bearer {token}"}), 401)


def test_the_key_is_shown_once_and_stored_as_its_hash(owner: Person, org: dict) -> None:
    created = org_key(owner, org)
    listed = owner.call("GET", f"/{org['id']}/api-keys").json
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    stored = db.session.get(ApiKey, uuid.UUID(created["id"]))
    assert stored.secret_hash == sha256_hex(created["key"])
    assert created["key"] not in repr([getattr(stored, c.key) for c in ApiKey.__table__.c])


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_revoked_or_expired_key_stops_at_once(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient, move_clock, how: str
) -> None:  # noqa: ANN001
    created = org_key(owner, org, expires_in=3600)
    assert exchange_key(http, script, created["key"]).status_code == 200
    if how == "revoked":
        assert owner.call("DELETE", f"/{org['id']}/api-keys/{created['id']}").status_code == 204
        assert_problem(owner.call("DELETE", f"/{org['id']}/api-keys/{created['id']}"), 409)
    else:
        move_clock(seconds=3601)

    refused = exchange_key(http, script, created["key"])

    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:access_token"},
            "invalid_request",
        ),
        ({"actor_token": "x", "actor_token_type": API_KEY_TYPE}, "invalid_request"),
        ({"audience": "billing"}, "invalid_request"),
        (
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
        ),
        ({"resource": "no-such-service"}, "invalid_target"),
        ({"scope": "orgs"}, "invalid_scope"),  # an org key carries roles, no scopes
        ({"subject_token": "ask_live_not-a-key"}, "invalid_grant"),
        ({"subject_token": "not-even-the-prefix"}, "invalid_grant"),
    ],
    ids=[
        "wrong-type",
        "actor",
        "audience",
        "refresh-requested",
        "unknown-resource",
        "wider-scope",
        "unknown-key",
        "no-prefix",
    ],
)
def test_a_bad_exchange_gets_the_oauth_error(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient, extra: dict, error: str
) -> None:
    key = org_key(owner, org)["key"]
    response = exchange_key(http, script, **{"key": key, **extra})
    assert response.status_code == 400, response.json
    assert response.json["error"] == error


def test_a_client_not_allowed_the_exchange_is_refused(
    http: FlaskClient, owner: Person, org: dict
) -> None:
    web = register_client()  # authorization_code and refresh_token only
    response = exchange_key(http, web, org_key(owner, org)["key"])
    assert response.status_code == 400 and response.json["error"] == "unauthorized_client"


def test_last_use_is_written_at_most_once_a_minute(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient, move_clock
) -> None:  # noqa: ANN001
    created = org_key(owner, org)
    for _ in range(3):
        assert exchange_key(http, script, created["key"]).status_code == 200
    assert _uses() == 1
    first = db.session.get(ApiKey, uuid.UUID(created["id"])).last_used_at
    move_clock(seconds=61)

    assert exchange_key(http, script, created["key"]).status_code == 200

    db.session.expire_all()
    assert _uses() == 2 and db.session.get(ApiKey, uuid.UUID(created["id"])).last_used_at > first


def _uses() -> int:
    stmt = (
        select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == "api_key.used")
    )
    return db.session.scalar(stmt)


def test_exchanges_are_throttled_per_key(
    http: FlaskClient, owner: Person, org: dict, script: RegisteredClient, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(exchange, "KEY_LIMIT", "2 per minute")
    busy, other = org_key(owner, org)["key"], org_key(owner, org, name="Other")["key"]
    for _ in range(2):
        assert exchange_key(http, script, busy).status_code == 200

    refused = exchange_key(http, script, busy)

    assert refused.status_code == 429 and refused.json["error"] == "temporarily_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert exchange_key(http, script, other).status_code == 200  # another key is not spent


def test_an_org_key_never_holds_more_than_its_creator_may_grant(
    app: Flask, owner: Person, org: dict
) -> None:
    admin, member = Person(app, "admin@example.com"), Person(app, "member@example.com")
    join(owner, org, admin, ["auth:admin"])
    join(owner, org, member, ["auth:member"])
    for roles in (["auth:owner"], ["auth:admin"], ["billing:god"]):
        refused = admin.call("POST", f"/{org['id']}/api-keys", {"name": "x", "roles": roles})
        assert_problem(refused, 422)
        assert refused.json["field"] == "roles/0"
    assert_problem(member.call("POST", f"/{org['id']}/api-keys", {"name": "x"}), 403)
    assert_problem(member.call("GET", f"/{org['id']}/api-keys"), 403)
    assert admin.call("POST", f"/{org['id']}/api-keys", {"name": "ok"}).status_code == 201


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"name": "x", "expires_in": "3600"}, "expires_in"),
        ({"name": "x", "expires_in": True}, "expires_in"),
        ({"name": "x", "expires_in": 60}, "expires_in"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": ""}, "name"),
        ({"name": "x", "teams": ["not-a-uuid"]}, "teams/0"),
    ],
    ids=["string-number", "bool", "too-short", "unknown-field", "empty-name", "bad-team"],
)
def test_a_bad_key_body_is_422_naming_the_field(
    owner: Person, org: dict, document: dict, field: str
) -> None:
    response = owner.call("POST", f"/{org['id']}/api-keys", document)
    assert_problem(response, 422)
    assert response.json["field"] == field


def test_a_personal_key_only_carries_its_own_scopes_and_is_the_owners_to_revoke(
    app: Flask, http: FlaskClient, owner: Person, script: RegisteredClient
) -> None:
    stranger = Person(app, "stranger@example.com")
    created = personal_key(owner, scopes=[])
    assert exchange_key(http, script, created["key"], scope="orgs").json["error"] == "invalid_scope"
    refused = stranger.http.delete(
        f"/api/v1/api-keys/{created['id']}",
        headers={"Authorization": f"Bearer {stranger.token}"},
    )
    assert_problem(refused, 404)
    bad = owner.http.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["orgs:write"]},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert_problem(bad, 422)
    events = db.session.scalars(
        select(AuditEvent.event_type).where(AuditEvent.target_type == "api_key")
    )
    assert list(events) == ["api_key.created"]


def test_a_person_keeps_at_most_max_keys_counted_under_a_lock(owner: Person, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(api_keys, "MAX_KEYS", 2)
    personal_key(owner)
    personal_key(owner)
    refused = owner.http.post(
        "/api/v1/api-keys",
        json={"name": "third"},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert_problem(refused, 409)


def test_an_exchange_within_the_minute_writes_nothing_and_reads_a_few_rows(
    app: Flask, http: FlaskClient, owner: Person, org: dict, script: RegisteredClient
) -> None:
    key = org_key(owner, org, roles=["billing:viewer"])["key"]
    assert exchange_key(http, script, key, resource="billing").status_code == 200

    with counting(app) as counts:
        assert exchange_key(http, script, key, resource="billing").status_code == 200

    assert counts.writes == 0 and counts.statements <= 6, counts.sql


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; this is a PostgreSQL guarantee")


def test_revoking_one_key_twice_at_once_is_one_204_and_one_409(
    app: Flask, owner: Person, org: dict, postgres_only: None
) -> None:
    for _ in range(3):
        key = org_key(owner, org)
        path = f"/api/v1/orgs/{org['id']}/api-keys/{key['id']}"
        statuses = at_once(app, [(owner.token, "DELETE", path, None)] * 2)
        assert statuses == [204, 409]
