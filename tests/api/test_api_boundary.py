"""/api/v1 is a resource server like any other: its own audience, separate read and write
scopes, and subjects that cannot pass for one another (README "API audience and scopes")."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from tests.api.conftest import API_SCOPES, Person, assert_problem
from tests.factories import make_member, make_org, make_user
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    authorize_params,
    pkce_pair,
    post_token,
    redirect_params,
    register_client,
    server_signed_access_token,
    sign_in,
    verify_as_resource_server,
)

PERSON_ROUTES = ("/api/v1/orgs", "/api/v1/invitations")
MANIFEST = {"service": "billing", "permissions": [], "roles": []}


def routes(app: Flask, prefixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Every served (method, path) under the prefixes, path parameters filled with new ids:
    a route added later is checked without anyone listing it here."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefixes):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, re.sub(r"<(?:\w+:)?\w+>", lambda _: str(uuid.uuid4()), rule.rule)


def call(http: FlaskClient, method: str, path: str, token: str):  # noqa: ANN201
    return http.open(path, method=method, json={}, headers={"Authorization": f"Bearer {token}"})


def service_client(**over: object) -> RegisteredClient:
    fields = {"service_name": "billing", "grant_types": ["client_credentials"], "redirect_uris": []}
    return register_client(**{**fields, "scopes": ["services:sync"], **over})


def service_token(http: FlaskClient, client: RegisteredClient) -> str:
    return post_token(http, client, {"grant_type": "client_credentials"}).json["access_token"]


@pytest.fixture
def read_only(app: Flask, api: None) -> Person:
    return Person(app, "reader@example.com", scope="openid offline_access orgs")


# Audience


@pytest.mark.parametrize("resource", [None, "billing"], ids=["client-audience", "other-service"])
def test_every_route_refuses_a_token_for_another_audience(
    app: Flask, api: None, resource: str | None
) -> None:
    person = Person(app, "owner@example.com", resource=resource)
    assert person.call("GET", "").status_code == 401
    every = list(routes(app, (*PERSON_ROUTES, "/api/v1/services")))
    assert len(every) >= 15
    for method, path in every:
        response = call(person.http, method, path, person.token)
        assert_problem(response, 401)
        assert response.json["type"].endswith("/invalid-token"), (method, path)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_for_the_api_has_its_audience_and_says_it_is_a_persons(
    app: Flask, api: None
) -> None:
    person = Person(app, "owner@example.com")
    claims = verify_as_resource_server(person.http, person.token, "auth").claims
    assert claims["sub"] == str(person.user.id) and claims["sub_kind"] == "person"
    assert person.call("POST", "", {"name": "Acme", "slug": "acme"}).status_code == 201
    assert person.call("GET", "").status_code == 200


def test_a_billing_token_can_no_longer_delete_an_org(app: Flask, api: None) -> None:
    owner = Person(app, "owner@example.com")
    org = owner.call("POST", "", {"name": "Acme", "slug": "acme"}).json
    for_billing = Person(app, "owner@example.com", resource="billing")
    assert_problem(for_billing.call("DELETE", f"/{org['id']}"), 401)
    assert owner.call("GET", f"/{org['id']}").status_code == 200


# Read and write scopes


def test_every_change_needs_the_write_scope(app: Flask, read_only: Person) -> None:
    changes = [(m, p) for m, p in routes(app, PERSON_ROUTES) if m != "GET"]
    assert len(changes) >= 9
    for method, path in changes:
        response = call(read_only.http, method, path, read_only.token)
        assert_problem(response, 403)
        assert response.json["type"].endswith("/insufficient-scope"), (method, path)
        assert 'scope="orgs:write"' in response.headers["WWW-Authenticate"]


def test_every_read_needs_the_read_scope(app: Flask, api: None) -> None:
    write_only = Person(app, "writer@example.com", scope="openid orgs:write")
    reads = [(m, p) for m, p in routes(app, PERSON_ROUTES) if m == "GET"]
    assert len(reads) >= 5
    for method, path in reads:
        response = call(write_only.http, method, path, write_only.token)
        assert_problem(response, 403)
        assert 'scope="orgs"' in response.headers["WWW-Authenticate"], (method, path)


def test_the_read_scope_reads(read_only: Person) -> None:
    org = make_org()
    make_member(org, read_only.user)
    db.session.commit()
    assert read_only.call("GET", f"/{org.id}").json["slug"] == org.slug
    assert read_only.call("GET", "").status_code == 200


def test_a_third_party_approved_for_orgs_cannot_change_an_org(app: Flask, api: None) -> None:
    third_party = register_client(name="Acme Reports", scopes=API_SCOPES)
    person = Person(app, "owner@example.com", scope="openid orgs", client=third_party)
    assert person.consent_page is not None
    assert b"Change your organizations" not in person.consent_page
    org = make_org()
    make_member(org, person.user)
    db.session.commit()
    assert person.call("GET", f"/{org.id}").status_code == 200
    for method, path in (("PATCH", ""), ("POST", "/invitations"), ("DELETE", "")):
        assert_problem(person.call(method, f"/{org.id}{path}", {"name": "Mine"}), 403)


def test_a_third_party_gets_the_write_scope_only_when_the_person_approves_it(
    app: Flask, api: None
) -> None:
    third_party = register_client(name="Acme Admin", scopes=API_SCOPES)
    person = Person(app, "owner@example.com", scope="openid orgs", client=third_party)
    assert_problem(person.call("POST", "", {"name": "Acme", "slug": "acme"}), 403)
    # Approving `orgs` earlier does not carry over to `orgs:write`: the person is asked.
    person.authorize("openid orgs orgs:write", third_party)
    assert b"Change your organizations in your name" in person.consent_page
    assert person.call("POST", "", {"name": "Acme", "slug": "acme"}).status_code == 201


def test_a_first_party_client_gets_the_write_scope_without_asking(app: Flask, api: None) -> None:
    person = Person(app, "owner@example.com")
    assert person.consent_page is None
    assert "orgs:write" in person.tokens["scope"].split()


# Subject kinds


def test_a_service_token_is_refused_on_every_person_route(
    app: Flask, http: FlaskClient, api: None
) -> None:
    token = service_token(http, service_client())
    for method, path in routes(app, PERSON_ROUTES):
        response = call(http, method, path, token)
        assert_problem(response, 403)
        assert response.json["type"].endswith("/person-required"), (method, path)


def test_a_client_whose_id_is_a_persons_id_gets_nothing_of_theirs(
    app: Flask, http: FlaskClient, read_only: Person
) -> None:
    org = make_org()
    make_member(org, read_only.user)
    db.session.commit()
    # Registration refuses such an id now; a row from before the rule is what remains.
    twin = service_client(client_id=str(read_only.user.id))
    token = service_token(http, twin)
    assert_problem(call(http, "GET", "/api/v1/orgs", token), 403)
    # Even a token that carried the person scopes it once could ask for.
    legacy = server_signed_access_token(app, twin.client, "openid orgs")
    assert_problem(call(http, "GET", "/api/v1/orgs", legacy), 403)
    response = http.get("/userinfo", headers={"Authorization": f"Bearer {legacy}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_a_token_that_says_person_counts_only_with_that_persons_grant(
    app: Flask, http: FlaskClient, read_only: Person
) -> None:
    """The kind claim is not enough alone: a person's token comes from their grant family."""
    client = register_client(scopes=API_SCOPES)
    forged = server_signed_access_token(
        app, client.client, "openid orgs", sub=str(read_only.user.id), sub_kind="person"
    )
    family_id = verify_as_resource_server(http, read_only.token, "auth").claims["family_id"]
    other = make_user()
    borrowed = server_signed_access_token(
        app, client.client, "openid orgs", sub=str(other.id), sub_kind="person", family_id=family_id
    )
    for token in (forged, borrowed):
        assert_problem(call(http, "GET", "/api/v1/orgs", token), 403)
        response = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    mine = http.get("/userinfo", headers={"Authorization": f"Bearer {read_only.token}"})
    assert mine.status_code == 200 and mine.json["sub"] == str(read_only.user.id)


def introspect(http: FlaskClient, registered: RegisteredClient, token: str) -> dict:
    raw = f"{registered.client_id}:{registered.secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    return http.post("/introspect", data={"token": token}, headers=headers).json


def test_introspection_says_what_kind_of_subject_a_token_has(
    http: FlaskClient, read_only: Person
) -> None:
    billing = service_client()
    assert introspect(http, billing, service_token(http, billing))["sub_kind"] == "service"
    for token in (read_only.token, read_only.tokens["refresh_token"]):
        found = introspect(read_only.http, read_only.client, token)
        assert found["active"] is True and found["sub_kind"] == "person"


# The manifest push: a service's own token for our API


def test_a_manifest_push_needs_a_service_token_for_the_api(
    app: Flask, http: FlaskClient, api: None
) -> None:
    billing = service_client()
    other_audience = server_signed_access_token(app, billing.client, "services:sync", aud="billing")
    path = "/api/v1/services/billing/manifest"
    response = http.put(path, json=MANIFEST, headers={"Authorization": f"Bearer {other_audience}"})
    assert_problem(response, 401)
    token = service_token(http, billing)
    assert verify_as_resource_server(http, token, "auth").claims["sub_kind"] == "service"
    response = http.put(path, json=MANIFEST, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json


def test_a_persons_token_cannot_push_a_manifest(app: Flask, api: None) -> None:
    # A client bound to billing that people sign in to (allowed before the rules).
    web = register_client(service_name="billing", scopes=[*API_SCOPES, "services:sync"])
    person = Person(app, "owner@example.com", scope="openid orgs", client=web)
    response = person.http.put(
        "/api/v1/services/billing/manifest",
        json=MANIFEST,
        headers={"Authorization": f"Bearer {person.token}"},
    )
    assert_problem(response, 403)
    assert response.json["type"].endswith("/service-required")


def test_a_person_is_never_granted_a_service_scope(
    app: Flask, http: FlaskClient, api: None
) -> None:
    web = register_client(service_name="billing", scopes=[*API_SCOPES, "services:sync"])
    sign_in(app, http, Person(app, "owner@example.com").user)
    _, challenge = pkce_pair()
    query = authorize_params(web, challenge, scope="openid services:sync")
    params = redirect_params(http.get("/authorize", query_string=query))
    assert params["error"] == "invalid_scope" and params["iss"] == ISSUER


@pytest.mark.parametrize("scope", ["openid", "orgs", "services:sync orgs:write"])
def test_client_credentials_never_grants_a_person_scope(
    http: FlaskClient, api: None, scope: str
) -> None:
    # A service client registered before registration refused person scopes.
    legacy = service_client(scopes=["services:sync", "openid", "orgs", "orgs:write"])
    response = post_token(http, legacy, {"grant_type": "client_credentials", "scope": scope})
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"
    default = post_token(http, legacy, {"grant_type": "client_credentials"})
    assert default.json["scope"] == "services:sync"
