"""PUT /api/v1/services/{service}/manifest: validation, idempotent sync, 409 and prune,
refusal across services, and concurrent pushes."""

from __future__ import annotations

import copy

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import AuditEvent, Permission, Role
from authserver.models.teams import team_roles
from authserver.services.auth_manifest import AUTH_MANIFEST
from authserver.services.manifest import parse
from authserver.services.sync import ReservedService, manifest_digest, sync, sync_auth_manifest
from tests.api.conftest import Person
from tests.concurrency import at_once
from tests.factories import make_member, make_org, make_service, make_team, make_user
from tests.oauth_helpers import RegisteredClient, post_token, register_client

MANIFEST = {
    "service": "billing",
    "description": "Invoices and payments",
    "permissions": [
        {"resource": "invoice", "action": "read", "description": "See invoices"},
        {"resource": "invoice", "action": "write"},
    ],
    "roles": [
        {"name": "viewer", "permissions": ["invoice:read"]},
        {
            "name": "admin",
            "description": "Everything",
            "permissions": ["invoice:read", "invoice:write"],
        },
    ],
}


def service_client(name: str) -> RegisteredClient:
    make_service(name)
    return register_client(
        service_name=name,
        grant_types=["client_credentials"],
        scopes=["services:sync"],
        redirect_uris=[],
    )


@pytest.fixture
def billing(app: Flask) -> RegisteredClient:
    return service_client("billing")


def token_for(http: FlaskClient, client: RegisteredClient) -> str:
    return post_token(http, client, {"grant_type": "client_credentials"}).json["access_token"]


def put(http: FlaskClient, token: str, document: object, service: str = "billing", **query: str):  # noqa: ANN201
    return http.put(
        f"/api/v1/services/{service}/manifest",
        json=document,
        query_string=query,
        headers={"Authorization": f"Bearer {token}"},
    )


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_first_push_creates_everything(http: FlaskClient, billing: RegisteredClient) -> None:
    response = put(http, token_for(http, billing), MANIFEST)
    assert response.status_code == 200, response.json
    assert response.json["created"] == {
        "permissions": ["invoice:read", "invoice:write"],
        "roles": ["admin", "viewer"],
    }
    admin = db.session.scalar(select(Role).where(Role.name == "admin"))
    assert {p.qualified_name for p in admin.permissions} == {
        "billing:invoice:read",
        "billing:invoice:write",
    }


def test_the_same_manifest_twice_changes_nothing(
    http: FlaskClient, billing: RegisteredClient
) -> None:
    token = token_for(http, billing)
    put(http, token, MANIFEST)
    again = put(http, token, MANIFEST).json
    assert (
        again["created"] == again["changed"] == again["removed"] == {"permissions": [], "roles": []}
    )
    assert again["unchanged"]["roles"] == ["admin", "viewer"]
    assert count(Role) == 2 and count(Permission) == 2
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_type == "manifest.synced")
        )
        == 1
    )


def test_changes_and_removals_are_reported(http: FlaskClient, billing: RegisteredClient) -> None:
    token = token_for(http, billing)
    put(http, token, MANIFEST)
    changed = copy.deepcopy(MANIFEST)
    changed["permissions"] = [{"resource": "invoice", "action": "read", "description": "Read"}]
    changed["roles"] = [{"name": "viewer", "description": "Reads", "permissions": ["invoice:read"]}]
    body = put(http, token, changed).json
    assert body["changed"] == {"permissions": ["invoice:read"], "roles": ["viewer"]}
    assert body["removed"] == {"permissions": ["invoice:write"], "roles": ["admin"]}
    assert count(Role) == 1 and count(Permission) == 1


def test_removing_a_held_role_is_refused_naming_the_holders(
    http: FlaskClient, billing: RegisteredClient
) -> None:
    token = token_for(http, billing)
    put(http, token, MANIFEST)
    person = make_user(email="holder@example.com")
    make_member(
        make_org(slug="acme"), person, [db.session.scalar(select(Role).where(Role.name == "admin"))]
    )
    db.session.commit()
    without_admin = copy.deepcopy(MANIFEST)
    without_admin["roles"] = [MANIFEST["roles"][0]]

    refused = put(http, token, without_admin)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert refused.json["detail"].startswith("1 member role assignment would be removed;")
    assert refused.json["held_by"] == [
        {
            "role": "billing:admin",
            "user_id": str(person.id),
            "email": "holder@example.com",
            "organization": "acme",
        }
    ]
    assert count(Role) == 2  # nothing written

    pruned = put(http, token, without_admin, prune_assignments="true")
    assert pruned.status_code == 200 and pruned.json["pruned_assignments"] == 1
    assert pruned.json["removed"]["roles"] == ["admin"]


def test_a_client_of_one_service_cannot_change_another(
    http: FlaskClient, billing: RegisteredClient
) -> None:
    service_client("crm")
    crm_manifest = {**MANIFEST, "service": "crm"}
    response = put(http, token_for(http, billing), crm_manifest, service="crm")
    assert response.status_code == 403 and response.json["type"].endswith("/wrong-service")
    assert count(Role) == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nonsense"}, 401), ({"Authorization": "Basic x"}, 401)],
)
def test_without_a_valid_token_the_answer_is_401_problem(
    http: FlaskClient, headers: dict, status: int
) -> None:
    response = http.put("/api/v1/services/billing/manifest", json=MANIFEST, headers=headers)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_sync_scope_is_403(http: FlaskClient, app: Flask) -> None:
    make_service("billing")
    client = register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=[], redirect_uris=[]
    )
    token = post_token(http, client, {"grant_type": "client_credentials"}).json["access_token"]
    response = put(http, token, MANIFEST)
    assert response.status_code == 403
    assert response.json["type"].endswith("/insufficient-scope")


def broken(change: callable) -> dict:  # noqa: F821
    document = copy.deepcopy(MANIFEST)
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (broken(lambda d: d.update(extra=1)), "/extra"),
        (
            broken(lambda d: d["roles"].append({"name": "viewer", "permissions": []})),
            "/roles/2/name",
        ),
        (
            broken(lambda d: d["permissions"].append({"resource": "invoice", "action": "read"})),
            "/permissions/2",
        ),
        (
            broken(lambda d: d["roles"][0]["permissions"].append("invoice:delete")),
            "/roles/0/permissions/1",
        ),
        (broken(lambda d: d["roles"][0].update(name="Bad Name")), "/roles/0/name"),
        (
            broken(lambda d: d["permissions"][0].update(resource="x" * 51)),
            "/permissions/0/resource",
        ),
        (broken(lambda d: d.update(service="crm")), "/service"),
        (broken(lambda d: d["roles"][0].update(colour="red")), "/roles/0/colour"),
    ],
    ids=[
        "unknown-field",
        "duplicate-role",
        "duplicate-permission",
        "undeclared-permission",
        "bad-name",
        "too-long",
        "other-service",
        "unknown-role-field",
    ],
)
def test_an_invalid_manifest_is_422_naming_the_field_and_writes_nothing(
    http: FlaskClient, billing: RegisteredClient, document: dict, field: str
) -> None:
    response = put(http, token_for(http, billing), document)
    assert response.status_code == 422, response.json
    assert field in [error["field"] for error in response.json["errors"]]
    assert count(Role) == 0 and count(Permission) == 0


def test_a_body_that_is_not_json_is_415(http: FlaskClient, billing: RegisteredClient) -> None:
    response = http.put(
        "/api/v1/services/billing/manifest",
        data="roles=1",
        headers={"Authorization": f"Bearer {token_for(http, billing)}"},
    )
    assert response.status_code == 415 and response.mimetype == "application/problem+json"


def test_the_schema_is_published(http: FlaskClient) -> None:
    schema = http.get("/api/v1/schemas/service-manifest.json").json
    assert schema["required"] == ["permissions", "roles"]


def test_concurrent_pushes_leave_no_duplicates(
    app: Flask, billing: RegisteredClient, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("concurrent syncs are serialized by a PostgreSQL row lock")
    http = app.test_client()
    token = token_for(http, billing)
    db.session.commit()

    def push() -> int:
        return put(app.test_client(), token, MANIFEST).status_code

    assert at_once([push] * 4) == [200] * 4
    db.session.expire_all()
    assert count(Role) == 2 and count(Permission) == 2


# ---- the server's own `auth` manifest -------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        {"service": "auth", "permissions": [], "roles": []},
        {**AUTH_MANIFEST, "roles": [{"name": "owner", "permissions": []}]},
    ],
    ids=["wipe", "weaken-owner"],
)
def test_no_client_can_replace_the_auth_manifest(
    http: FlaskClient, app: Flask, api: None, document: dict
) -> None:
    """A client bound to `auth` (registered before the rule refused it) still cannot push."""
    token = token_for(http, service_client("auth"))
    before = {
        r.name: sorted(p.action for p in r.permissions) for r in db.session.scalars(select(Role))
    }

    refused = put(http, token, document, service="auth")

    assert refused.status_code == 403 and refused.json["type"].endswith("/reserved-service")
    db.session.expire_all()
    after = {
        r.name: sorted(p.action for p in r.permissions) for r in db.session.scalars(select(Role))
    }
    assert after == before
    creator = Person(app, "creator@example.com")
    assert creator.call("POST", "", {"name": "Still", "slug": "still-works"}).status_code == 201


def test_sync_refuses_the_auth_service_and_the_server_keeps_its_own(app: Flask) -> None:
    with pytest.raises(ReservedService):
        sync(parse("auth", AUTH_MANIFEST), manifest_digest(AUTH_MANIFEST))
    assert sync_auth_manifest().as_dict()["created"]["roles"] == ["admin", "member", "owner"]


def test_removing_a_role_a_team_holds_is_refused_naming_the_team(
    http: FlaskClient, billing: RegisteredClient
) -> None:
    token = token_for(http, billing)
    put(http, token, MANIFEST)
    admin = db.session.scalar(select(Role).where(Role.name == "admin"))
    team = make_team(make_org(slug="acme"), slug="finance", roles=[admin])
    db.session.commit()
    without_admin = copy.deepcopy(MANIFEST)
    without_admin["roles"] = [MANIFEST["roles"][0]]

    refused = put(http, token, without_admin)

    assert refused.status_code == 409
    assert refused.json["detail"].startswith("1 team role assignment would be removed;")
    assert refused.json["held_by"] == [
        {
            "role": "billing:admin",
            "team_id": str(team.id),
            "team": "finance",
            "organization": "acme",
        }
    ]
    pruned = put(http, token, without_admin, prune_assignments="true")
    assert pruned.status_code == 200 and pruned.json["pruned_assignments"] == 1
    assert db.session.scalar(select(func.count()).select_from(team_roles)) == 0
