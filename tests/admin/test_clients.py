"""The client pages: register with the CLI's rules, edit, rotate the secret (shown once),
delete with a confirmation that says what goes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import AuditEvent, Consent, GrantFamily, OAuthClient, User
from tests.admin.conftest import post
from tests.oauth_helpers import register_client

CALLBACK = "https://app.example.com/callback"


def new_client_form(**over: object) -> dict[str, object]:
    return {
        "name": "Acme Reports",
        "redirect_uris": CALLBACK,
        "grant_type": ["authorization_code", "refresh_token"],
        "scope": ["openid", "email"],
        "auth_method": "client_secret_basic",
        **over,
    }


def shown_secret(html: bytes) -> str:
    return re.search(rb'id="client-secret">([^<]+)<', html).group(1).decode()


def test_registering_a_confidential_client_shows_its_secret_once(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    response = post(http, "/admin/clients/new", new_client_form(), page="/admin/clients/new")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = shown_secret(response.data)
    client = db.session.scalar(select(OAuthClient).where(OAuthClient.name == "Acme Reports"))
    assert client.redirect_uris == [CALLBACK] and client.scopes == ["email", "openid"]
    assert client.check_client_secret(secret)
    assert secret.encode() not in http.get(f"/admin/clients/{client.client_id}").data
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "client.created")
    )
    assert event.actor_user_id == admin_operator.id and event.target_id == client.client_id


def test_a_public_client_has_no_secret(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = new_client_form(auth_method="none", client_id="spa-app")
    response = post(http, "/admin/clients/new", form, page="/admin/clients/new")
    assert response.status_code == 200 and b"no secret" in response.data
    assert OAuthClient.find("spa-app").is_public


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"redirect_uris": "http://app.example.com/cb"}, b"must be https"),
        ({"redirect_uris": "https://app.example.com/*"}, b"wildcards"),
        ({"redirect_uris": ""}, b"authorization_code needs at least one"),
        ({"grant_type": ["client_credentials"]}, b"service clients only"),
        ({"scope": ["openid", "admin"]}, b"unknown: admin"),
        ({"name": ""}, b"1 to 100 characters"),
        ({"client_id": "-rm"}, b"client_id"),
        ({"auth_method": "private_key_jwt"}, b"needs either jwks or jwks_uri"),
    ],
)
def test_the_cli_rules_refuse_a_bad_client_with_the_form_again(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    over: dict[str, object],
    message: bytes,
) -> None:
    http = console(admin_operator)
    response = post(http, "/admin/clients/new", new_client_form(**over), page="/admin/clients/new")
    assert response.status_code == 400
    assert message in response.data and b'name="redirect_uris"' in response.data
    assert db.session.scalar(select(OAuthClient)) is None


@pytest.mark.parametrize(
    "over",
    [{"name": "x" * 101}, {"redirect_uris": "https://a.example/" + "x" * 20_000}],
    ids=["long-name", "huge-uris"],
)
def test_huge_fields_get_a_friendly_page(
    console: Callable[[User], FlaskClient], admin_operator: User, over: dict[str, object]
) -> None:
    http = console(admin_operator)
    response = post(http, "/admin/clients/new", new_client_form(**over), page="/admin/clients/new")
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_editing_a_client_applies_the_rules_and_is_audited(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    registered = register_client(name="Old name", redirect_uris=[CALLBACK])
    db.session.commit()
    http = console(admin_operator)
    path = f"/admin/clients/{registered.client_id}"
    form = {"name": "New name", "redirect_uris": CALLBACK + "\nhttps://app.example.com/two",
            "scope": ["openid"]}  # fmt: skip
    assert post(http, path, form, page=path).status_code == 303
    db.session.expire_all()
    client = OAuthClient.find(registered.client_id)
    assert client.name == "New name" and len(client.redirect_uris) == 2
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "client.changed"))
    assert event.actor_user_id == admin_operator.id
    assert set(event.details["fields"]) == {"name", "redirect_uris", "scopes"}

    bad = post(http, path, {**form, "redirect_uris": "ftp://x"}, page=path)
    assert bad.status_code == 400 and b"must be https" in bad.data
    db.session.expire_all()
    assert OAuthClient.find(registered.client_id).redirect_uris[0] == CALLBACK


def test_rotating_the_secret_stops_the_old_one(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    registered = register_client()
    db.session.commit()
    http = console(admin_operator)
    path = f"/admin/clients/{registered.client_id}"
    response = post(http, path + "/rotate-secret", page=path)
    assert response.status_code == 200
    db.session.expire_all()
    client = OAuthClient.find(registered.client_id)
    assert client.check_client_secret(shown_secret(response.data))
    assert not client.check_client_secret(registered.secret)


def test_a_public_clients_secret_cannot_be_rotated(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    registered = register_client(public=True)
    db.session.commit()
    http = console(admin_operator)
    path = f"/admin/clients/{registered.client_id}/rotate-secret"
    assert post(http, path).status_code == 409


def test_deleting_says_what_goes_and_needs_the_client_id_typed(
    console: Callable[[User], FlaskClient], admin_operator: User, person: User
) -> None:
    registered = register_client(name="Doomed")
    now = utcnow()
    db.session.add(Consent(user_id=person.id, client_id=registered.client.id, scopes=["email"]))
    db.session.add(
        GrantFamily(
            client_id=registered.client.id, user_id=person.id, auth_time=now,
            expires_at=now + timedelta(days=1),
        )
    )  # fmt: skip
    db.session.commit()
    http = console(admin_operator)
    path = f"/admin/clients/{registered.client_id}/delete"
    confirmation = http.get(path)
    assert b"1 active grant(s)" in confirmation.data and b"1 consent(s)" in confirmation.data

    assert post(http, path, {"confirm": "wrong"}, page=path).status_code == 400
    assert OAuthClient.find(registered.client_id) is not None

    assert post(http, path, {"confirm": registered.client_id}, page=path).status_code == 303
    db.session.expire_all()
    assert OAuthClient.find(registered.client_id) is None
    assert db.session.scalar(select(GrantFamily)) is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "client.deleted"))
    assert event.actor_user_id == admin_operator.id


def test_clients_are_listed_and_filtered(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    register_client(name="Spa One", public=True)
    register_client(name="Server Two")
    db.session.commit()
    http = console(admin_operator)
    assert b"Spa One" in http.get("/admin/clients").data
    public = http.get("/admin/clients?kind=public").data
    assert b"Spa One" in public and b"Server Two" not in public
    named = http.get("/admin/clients?q=TWO").data
    assert b"Server Two" in named and b"Spa One" not in named
    assert http.get("/admin/clients?kind=weird").status_code == 400
    assert http.get("/admin/clients?q=%25").status_code == 200


def test_an_unknown_client_is_a_404_page(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    assert console(admin_operator).get("/admin/clients/nope").status_code == 404


def test_the_console_sets_and_refuses_what_people_see_of_a_client(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    registered = register_client(name="Notes", redirect_uris=[CALLBACK])
    db.session.commit()
    http = console(admin_operator)
    path = f"/admin/clients/{registered.client_id}"
    form = {
        "name": "Notes",
        "redirect_uris": CALLBACK,
        "scope": ["openid"],
        "logo_uri": "https://notes.example/logo.png",
        "tos_uri": "https://notes.example/t",
    }
    assert post(http, path, form, page=path).status_code == 303
    db.session.expire_all()
    client = OAuthClient.find(registered.client_id)
    assert client.logo_uri == "https://notes.example/logo.png" and client.policy_uri is None

    bad = post(http, path, {**form, "logo_uri": "http://notes.example/logo.png"}, page=path)
    assert bad.status_code == 400 and b"must be an https URL" in bad.data
