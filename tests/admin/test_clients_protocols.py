"""The client form's newer protocol options: private_key_jwt keys (pasted or by URL), the
device grant, DPoP-bound tokens, PAR and back-channel logout, under registration.py's rules."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent, OAuthClient, User
from authserver.models.clients import DEVICE_CODE_GRANT_TYPE
from authserver.oauth.client_jwks import parse_jwks
from tests.admin.conftest import post
from tests.admin.test_clients import CALLBACK, new_client_form
from tests.oauth_helpers import register_client

RSA = RSAKey.generate_key(2048, parameters={"kid": "k1"})
PUBLIC_JWKS = {"keys": [RSA.as_dict(private=False)]}
JWKS_URI = "https://app.example.com/jwks.json"
NEW = "/admin/clients/new"


def register(http: FlaskClient, **over: object):
    return post(http, NEW, new_client_form(**over), page=NEW)


def changed_fields() -> list[set[str]]:
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "client.changed"))
    return [set(event.details["fields"]) for event in events]


def key_client(**over: object) -> OAuthClient:
    fields = {"token_endpoint_auth_method": "private_key_jwt", "jwks": PUBLIC_JWKS,
              "client_secret_hash": None}  # fmt: skip
    return app_client(**{**fields, **over})


def app_client(**over: object) -> OAuthClient:
    """A client as register() stores it (scopes sorted), so an unchanged form changes nothing."""
    return register_client(
        **{"redirect_uris": [CALLBACK], "scopes": ["email", "openid"], **over}
    ).client


def edit_form(client: OAuthClient, **over: object) -> dict[str, object]:
    """The edit form as the page shows it for `client`, with `over` typed in."""
    form = {
        "name": client.name,
        "redirect_uris": "\n".join(client.redirect_uris),
        "scope": client.scopes,
        "jwks": json.dumps(client.jwks, indent=2) if client.jwks else "",
        "jwks_uri": client.jwks_uri or "",
    }
    return {**form, **over}


def test_a_private_key_jwt_client_registers_pasted_public_keys_and_gets_no_secret(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = {"auth_method": "private_key_jwt", "jwks": json.dumps(PUBLIC_JWKS), "client_id": "pkj"}
    response = register(http, **form)
    assert response.status_code == 200 and b'id="client-secret"' not in response.data
    client = OAuthClient.find("pkj")
    assert client.token_endpoint_auth_method == "private_key_jwt"
    assert client.jwks == PUBLIC_JWKS and client.client_secret_hash is None
    page = http.get("/admin/clients/pkj").data
    assert b"1 key registered inline" in page and b"k1" in page
    assert b"Rotate the secret" not in page
    assert post(http, "/admin/clients/pkj/rotate-secret").status_code == 409


def test_a_private_key_jwt_client_may_name_an_https_jwks_uri(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    response = register(http, auth_method="private_key_jwt", jwks_uri=JWKS_URI, client_id="pkj")
    assert response.status_code == 200
    assert OAuthClient.find("pkj").jwks_uri == JWKS_URI
    assert b"fetched from" in http.get("/admin/clients/pkj").data


PRIVATE_JWKS = {"keys": [RSA.as_dict(private=True)]}
SECRET_JWKS = {"keys": [OctKey.generate_key(256).as_dict()]}
NUL_KID_JWKS = {"keys": [{**RSA.as_dict(private=False), "kid": "k\x00"}]}  # JSON: "k\u0000"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"auth_method": "private_key_jwt"}, b"needs either jwks or jwks_uri"),
        (
            {"auth_method": "private_key_jwt", "jwks": json.dumps(PUBLIC_JWKS),
             "jwks_uri": JWKS_URI},
            b"needs either jwks or jwks_uri",
        ),  # fmt: skip
        ({"auth_method": "none", "jwks": json.dumps(PUBLIC_JWKS)}, b"use private_key_jwt"),
        ({"jwks_uri": JWKS_URI}, b"use private_key_jwt"),
        ({"auth_method": "private_key_jwt", "jwks": '{"keys": ['}, b"jwks: is not JSON"),
        ({"auth_method": "private_key_jwt", "jwks": "[1]"}, b"must be a JSON object"),
        ({"auth_method": "private_key_jwt", "jwks": '{"keys": []}'}, b"must hold 1 to 20 keys"),
        (
            {"auth_method": "private_key_jwt", "jwks": json.dumps(PRIVATE_JWKS)},
            b"never a private key",
        ),
        (
            {"auth_method": "private_key_jwt", "jwks": json.dumps(SECRET_JWKS)},
            b"RSA, EC or OKP public keys",
        ),
        (
            {"auth_method": "private_key_jwt", "jwks": '{"keys": [{"kty": "RSA", "n": "x"}]}'},
            b"not a valid JWK Set",
        ),
        (
            {"auth_method": "private_key_jwt", "jwks": json.dumps(NUL_KID_JWKS)},
            b"NUL character",
        ),
        ({"auth_method": "private_key_jwt", "jwks": "[" * 5000}, b"not JSON this server"),
        ({"auth_method": "private_key_jwt", "jwks": "1" * 5000}, b"not JSON this server"),
        ({"auth_method": "private_key_jwt", "jwks": " " * 10 + "x" * 70_000}, b"at most 65536"),
        (
            {"auth_method": "private_key_jwt", "jwks_uri": "http://keys.example.com/jwks"},
            b"must be https, http on a loopback address",
        ),
        (
            {"auth_method": "private_key_jwt", "jwks_uri": "https://keys.example.com/j#frag"},
            b"must not have a fragment",
        ),
        ({"backchannel_logout_uri": "http://app.example.com/bcl"}, b"must be https or http"),
        ({"backchannel_logout_uri": "https://app.example.com/b#x"}, b"or a fragment"),
        ({"backchannel_logout_uri": "https://app.example.com:port/"}, b"is not a URI"),
        (
            {"grant_type": ["client_credentials", DEVICE_CODE_GRANT_TYPE], "service": "billing",
             "scope": ["services:sync"]},
            b"client_credentials goes alone",
        ),  # fmt: skip
        ({"grant_type": ["refresh_token"]}, b"refresh_token goes with"),
    ],
    ids=[
        "no-keys", "both-keys", "public-with-keys", "secret-with-jwks-uri", "invalid-json",
        "not-an-object", "no-key", "private-key", "shared-secret-key", "broken-key", "nul-escape",
        "nested", "huge-number", "huge-jwks", "http-jwks-uri", "jwks-uri-fragment", "http-bcl",
        "bcl-fragment", "bcl-bad-port", "device-with-client-credentials", "refresh-alone",
    ],
)  # fmt: skip
def test_what_registration_refuses_the_form_refuses_with_the_form_again(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    over: dict[str, object],
    message: bytes,
) -> None:
    response = register(console(admin_operator), **over)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert message in response.data and b'role="alert"' in response.data
    assert b'name="jwks"' in response.data  # the form again, to correct
    assert db.session.scalar(select(OAuthClient)) is None


def test_a_refused_form_keeps_the_pasted_keys_to_correct(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    response = register(console(admin_operator), auth_method="private_key_jwt", jwks='{"keys": [')
    assert b"{&#34;keys&#34;: [</textarea>" in response.data


def test_a_device_cli_registers_as_a_public_client_with_the_device_grant(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = {"auth_method": "none", "redirect_uris": "", "client_id": "tv-app",
            "grant_type": [DEVICE_CODE_GRANT_TYPE, "refresh_token"]}  # fmt: skip
    assert b"device code (RFC 8628" in http.get(NEW).data
    assert register(http, **form).status_code == 200
    client = OAuthClient.find("tv-app")
    assert client.is_public
    assert client.grant_types == ["refresh_token", DEVICE_CODE_GRANT_TYPE]
    assert DEVICE_CODE_GRANT_TYPE.encode() in http.get("/admin/clients/tv-app").data


def test_dpop_par_and_back_channel_logout_are_set_at_registration_and_shown(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = {"client_id": "strict", "dpop_bound_access_tokens": "on",
            "require_pushed_authorization_requests": "on",
            "backchannel_logout_uri": "https://app.example.com/bcl",
            "backchannel_logout_session_required": "on"}  # fmt: skip
    assert register(http, **form).status_code == 200
    client = OAuthClient.find("strict")
    assert client.dpop_bound_access_tokens and client.require_pushed_authorization_requests
    assert client.backchannel_logout_uri == "https://app.example.com/bcl"
    assert client.backchannel_logout_session_required
    page = http.get("/admin/clients/strict").data.decode()
    assert "DPoP-bound tokens (RFC 9449)</th><td>required" in page
    assert "Pushed authorization requests (RFC 9126)</th><td>required" in page
    assert "https://app.example.com/bcl</span>\n        · with the session id (sid)" in page


def test_editing_the_protocol_options_is_audited_and_unticking_clears_them(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    client = app_client()
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    on = {"dpop_bound_access_tokens": "on", "require_pushed_authorization_requests": "on",
          "backchannel_logout_uri": "https://app.example.com/bcl"}  # fmt: skip
    assert post(http, path, edit_form(client, **on), page=path).status_code == 303
    db.session.expire_all()
    client = OAuthClient.find(client.client_id)
    assert client.dpop_bound_access_tokens and client.require_pushed_authorization_requests
    assert client.backchannel_logout_uri == "https://app.example.com/bcl"
    page = http.get(path).data
    assert b'name="dpop_bound_access_tokens" checked' in page
    assert b'value="https://app.example.com/bcl"' in page
    assert b'name="jwks"' not in page  # keys are for private_key_jwt clients only

    assert post(http, path, edit_form(client), page=path).status_code == 303
    db.session.expire_all()
    client = OAuthClient.find(client.client_id)
    assert not client.dpop_bound_access_tokens and client.backchannel_logout_uri is None
    expected = {"dpop_bound_access_tokens", "require_pushed_authorization_requests",
                "backchannel_logout_uri"}  # fmt: skip
    assert changed_fields() == [expected, expected]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "client.changed"))
    assert event.actor_user_id == admin_operator.id and event.target_id == client.client_id


def test_an_edit_is_refused_by_the_back_channel_rules_and_changes_nothing(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    client = app_client()
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    form = edit_form(client, backchannel_logout_uri="http://app.example.com/bcl",
                     dpop_bound_access_tokens="on")  # fmt: skip
    refused = post(http, path, form, page=path)
    assert refused.status_code == 400 and b"must be https or http" in refused.data
    db.session.expire_all()
    client = OAuthClient.find(client.client_id)
    assert client.backchannel_logout_uri is None and not client.dpop_bound_access_tokens
    assert changed_fields() == []


def test_a_key_clients_page_saved_unchanged_changes_nothing(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    client = key_client()
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    page = http.get(path).data.decode()
    assert '<textarea id="jwks" name="jwks"' in page and '"kid": "k1"' in page.replace("&#34;", '"')
    assert post(http, path, edit_form(client), page=path).status_code == 303
    assert changed_fields() == []


def test_a_key_client_moves_from_pasted_keys_to_a_jwks_uri(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    client = key_client()
    client_jwks_before = client.jwks
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    both = post(http, path, edit_form(client, jwks_uri=JWKS_URI), page=path)
    assert both.status_code == 400 and b"needs either jwks or jwks_uri" in both.data
    assert (
        post(http, path, edit_form(client, jwks="", jwks_uri=JWKS_URI), page=path).status_code
        == 303
    )
    db.session.expire_all()
    moved = OAuthClient.find(client.client_id)
    assert moved.jwks is None and moved.jwks_uri == JWKS_URI
    assert changed_fields() == [{"jwks", "jwks_uri"}]
    # Who handed the client's identity to other keys, and from which: the audit says.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "client.changed"))
    thumbprints = [key.thumbprint() for key in parse_jwks(client_jwks_before)]
    assert event.details["values"] == {
        "jwks": {"from": thumbprints, "to": None},
        "jwks_uri": {"from": None, "to": JWKS_URI},
    }


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"jwks": json.dumps(PRIVATE_JWKS)}, b"never a private key"),
        ({"jwks": "not json"}, b"is not JSON"),
        ({"jwks": ""}, b"needs either jwks or jwks_uri"),
        ({"jwks": "", "jwks_uri": "http://10.0.0.1/jwks"}, b"http on a loopback address"),
    ],
    ids=["private-key", "invalid-json", "no-keys", "http-jwks-uri"],
)
def test_a_key_clients_keys_are_checked_on_edit_and_kept_when_refused(
    console: Callable[[User], FlaskClient],
    admin_operator: User,
    over: dict[str, object],
    message: bytes,
) -> None:
    client = key_client()
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    refused = post(http, path, edit_form(client, **over), page=path)
    assert refused.status_code == 400 and message in refused.data
    db.session.expire_all()
    assert OAuthClient.find(client.client_id).jwks == PUBLIC_JWKS
    assert changed_fields() == []


def test_keys_posted_for_a_client_without_private_key_jwt_are_refused(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    client = app_client()
    http = console(admin_operator)
    path = f"/admin/clients/{client.client_id}"
    refused = post(http, path, edit_form(client, jwks_uri=JWKS_URI), page=path)
    assert refused.status_code == 400 and b"use private_key_jwt" in refused.data
    db.session.expire_all()
    assert OAuthClient.find(client.client_id).jwks_uri is None


def test_the_new_fields_need_the_csrf_token(
    console: Callable[[User], FlaskClient], admin_operator: User
) -> None:
    http = console(admin_operator)
    form = new_client_form(auth_method="private_key_jwt", jwks=json.dumps(PUBLIC_JWKS))
    refused = http.post(NEW, data={**form, "csrf_token": "forged"})
    assert refused.status_code == 400
    assert db.session.scalar(select(OAuthClient)) is None
