"""The keys page (rotate; retire is root's), the services and organizations pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver import audit
from authserver.extensions import db
from authserver.keys import KeyStore, current_key_store
from authserver.models import AuditEvent, Role, User
from authserver.services.manifest import parse
from authserver.services.sync import manifest_digest, sync
from tests.admin.conftest import post
from tests.factories import make_invitation, make_member, make_org, make_role
from tests.oauth_helpers import register_client


@pytest.fixture(autouse=True)
def own_keys(app: Flask, tmp_path: Path) -> Iterator[KeyStore]:
    """A key store of this test's own: rotations must not reach the other tests' keys."""
    shared = app.extensions["authserver.keys"]
    store = KeyStore(tmp_path / "keys", shared.schedule, reload_interval=0)
    store.ensure_key()
    app.extensions["authserver.keys"] = store
    yield store
    app.extensions["authserver.keys"] = shared


def test_rotating_publishes_a_pending_key_with_its_countdown(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    before = {key.kid for key in current_key_store().keys()}
    assert post(http, "/admin/keys/rotate", {"alg": "ES256"}).status_code == 303
    [new] = [key for key in current_key_store().keys() if key.kid not in before]
    assert new.alg == "ES256"
    page = http.get("/admin/keys").data
    assert new.kid.encode() in page and b"pending" in page and b"data-countdown" in page
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "key.rotated"))
    assert event.actor_user_id == admin_operator.id and event.target_id == new.kid


def test_an_admin_cannot_retire_a_key_or_rotate_it_out_at_once(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    kid = current_key_store().signing_key().kid
    assert post(http, "/admin/keys/retire", {"kid": kid}).status_code == 403
    assert post(http, "/admin/keys/rotate", {"alg": "RS256", "now": "on"}).status_code == 403
    assert current_key_store().signing_key().kid == kid


def test_root_retires_a_key_but_never_the_only_signing_one(
    console: Callable[[User], FlaskClient], root: User
) -> None:
    http = console(root)
    kid = current_key_store().signing_key().kid
    refused = post(http, "/admin/keys/retire", {"kid": kid})
    assert refused.status_code == 409 and b"only key" in refused.data
    assert post(http, "/admin/keys/rotate", {"alg": "RS256", "now": "on"}).status_code == 303
    new = current_key_store().signing_key().kid
    assert new != kid
    assert post(http, "/admin/keys/retire", {"kid": new}).status_code == 409
    assert post(http, "/admin/keys/retire", {"kid": "no-such-kid"}).status_code == 404


def test_a_bad_algorithm_is_refused(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    assert post(console(admin_operator), "/admin/keys/rotate", {"alg": "none"}).status_code == 400


MANIFEST = {
    "service": "billing",
    "description": "Invoices",
    "permissions": [{"resource": "invoice", "action": "read"}],
    "roles": [{"name": "viewer", "permissions": ["invoice:read"]}],
}


def test_a_service_page_shows_roles_holders_clients_and_the_last_sync(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    result = sync(parse("billing", MANIFEST), manifest_digest(MANIFEST))
    audit.record("manifest.synced", target_type="service", target_id="billing", via="api",
                 **result.as_dict())  # fmt: skip
    viewer = db.session.scalar(select(Role).filter_by(name="viewer"))
    make_member(make_org(), person, [viewer])
    register_client(name="Billing backend", service_name="billing",
                    grant_types=["client_credentials"], redirect_uris=[])  # fmt: skip
    db.session.commit()
    http = console(admin_operator)
    assert b"billing" in http.get("/admin/services").data
    page = http.get("/admin/services/billing").data
    assert b"billing:viewer" in page and b"<td>1 member</td>" in page
    assert b"Billing backend" in page and b"invoice:read" in page
    assert b"created" in page and b"viewer" in page
    assert console(admin_operator).get("/admin/services/nope").status_code == 404


def test_an_organization_page_shows_members_invitations_and_its_log(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    org = make_org(name="Analytical Engines", slug="engines")
    make_member(org, person, [make_role("billing", "admin")])
    make_invitation(org, email="new@example.com")
    audit.record("member.added", organization_id=org.id, target_type="member", target_id="m1")
    db.session.commit()
    http = console(admin_operator)
    listing = http.get("/admin/orgs?q=ENG").data
    assert b"Analytical Engines" in listing
    page = http.get(f"/admin/orgs/{org.id}").data
    for expected in (b"grace@example.com", b"billing:admin", b"new@example.com", b"member.added"):
        assert expected in page
    assert http.get("/admin/orgs/not-an-id").status_code == 404


def sync_form(document: object, **over: str) -> dict[str, str]:
    import json

    return {"manifest": json.dumps(document), **over}


def test_a_manifest_synced_from_the_console_shows_its_diff(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    response = post(http, "/admin/services/sync", sync_form(MANIFEST), page="/admin/services")
    assert response.status_code == 303 and response.headers["Location"].endswith("/billing")
    assert Role.find("billing", "viewer") is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "manifest.synced"))
    assert event.actor_user_id == admin_operator.id and event.details["via"] == "admin"
    assert b"billing:viewer" in http.get("/admin/services/billing").data


def test_removing_a_held_role_needs_the_prune_box(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    sync(parse("billing", MANIFEST), manifest_digest(MANIFEST))
    make_member(make_org(), person, [Role.find("billing", "viewer")])
    db.session.commit()
    http = console(admin_operator)
    without = {**MANIFEST, "roles": []}
    refused = post(http, "/admin/services/sync", sync_form(without), page="/admin/services")
    assert refused.status_code == 409 and Role.find("billing", "viewer") is not None
    pruned = post(http, "/admin/services/sync", sync_form(without, prune="on"),
                  page="/admin/services")  # fmt: skip
    assert pruned.status_code == 303
    db.session.expire_all()
    assert Role.find("billing", "viewer") is None


@pytest.mark.parametrize(
    ("manifest", "status"),
    [
        ("{not json", 400),
        ("[" * 100_000 + "]" * 100_000, 400),
        ('{"permissions": [], "roles": []}', 400),
        ('{"service": "auth", "permissions": [], "roles": []}', 403),
        ('{"service": "Bad Name!", "permissions": [], "roles": []}', 400),
        ("x" * 300_000, 413),
    ],
    ids=["not-json", "deep", "unnamed", "auth", "bad-name", "huge"],
)
def test_a_bad_manifest_gets_a_friendly_page(
    console: Callable[[User], FlaskClient], admin_operator: User, manifest: str, status: int
) -> None:
    http = console(admin_operator)
    response = post(http, "/admin/services/sync", {"manifest": manifest}, page="/admin/services")
    assert response.status_code == status and response.mimetype == "text/html"


def test_pruning_deletes_unpublished_key_files(
    console: Callable[[User], FlaskClient], root: User, own_keys: KeyStore, move_clock
) -> None:
    http = console(root)
    old = own_keys.signing_key().kid
    own_keys.rotate(immediately=True)
    move_clock(days=1)
    http = console(root)  # a fresh sign-in after the clock moved
    assert post(http, "/admin/keys/prune").status_code == 303
    assert old not in {key.kid for key in own_keys.keys()}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "key.pruned"))
    assert event.target_id == old and event.actor_user_id == root.id


def test_the_dashboard_counts_from_the_tables_and_the_audit_log(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User, move_clock
) -> None:
    audit.record("sign_in", outcome="failure", method="pwd")
    audit.record("token.family_revoked", reason="refresh_reuse")
    db.session.commit()
    page = console(admin_operator).get("/admin/").data.decode()
    assert "People</span><strong>1</strong>" in page  # the operator
    assert "failed sign-ins per hour" in page and "1 in all" in page
    assert "<td>refresh reuse detected</td>" in page
    reuse_row = page.split("<td>refresh reuse detected</td>")[1].split("</tr>")[0]
    assert reuse_row.count("<td>1</td>") == 2  # in the last hour and the last day


def test_the_dashboard_shows_tokens_by_grant_type_from_the_metrics(
    app: Flask, console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    import dataclasses

    from authserver.metrics import count_token_issued

    http = console(admin_operator)
    assert b"Turn on <code>AUTHSERVER_METRICS</code>" in http.get("/admin/").data
    settings = app.extensions["authserver.settings"]
    app.extensions["authserver.settings"] = dataclasses.replace(settings, metrics=True)
    try:
        count_token_issued("client_credentials")
        page = http.get("/admin/").data.decode()
    finally:
        app.extensions["authserver.settings"] = settings
    assert "<td>client_credentials</td>" in page
