"""Rate limits: a limited caller gets 429 with Retry-After in the endpoint's own format
(RFC 6749 JSON at /token, problem+json under /api). Sign-in throttles are tested with the
sign-in page (tests/pages)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_limiter.util import get_qualified_name
from sqlalchemy.exc import OperationalError

from authserver.extensions import RATE_LIMITED_ENDPOINTS, db, limiter
from authserver.oauth import routes as oauth_routes
from tests import concurrency
from tests.api.conftest import Person, assert_problem
from tests.api.test_invitations_api import invite
from tests.api.test_manifest import MANIFEST, put, service_client, token_for
from tests.api.test_private_key_jwt import assertion, key_client, with_assertion
from tests.factories import make_service
from tests.oauth_helpers import RegisteredClient, post_token

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


@pytest.fixture
def token_limit(app: Flask) -> Iterator[Callable[[str | None], None]]:
    original = app.extensions["authserver.settings"]

    def set_to(rate: str | None) -> None:
        app.extensions["authserver.settings"] = dataclasses.replace(original, token_rate_limit=rate)

    yield set_to
    app.extensions["authserver.settings"] = original


@pytest.fixture
def billing(app: Flask) -> RegisteredClient:
    return service_client("billing")


def test_a_client_over_its_token_rate_gets_429_in_oauth_json(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit("3/minute")
    for _ in range(3):
        assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 200

    limited = post_token(http, billing, CLIENT_CREDENTIALS)

    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.mimetype == "application/json"
    assert limited.json["error"] == "temporarily_unavailable"
    assert limited.headers["Cache-Control"] == "no-store"


def test_the_token_rate_is_per_client(
    app: Flask, http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit("2/minute")
    other = service_client("shipping")
    for _ in range(2):
        post_token(http, billing, CLIENT_CREDENTIALS)
    assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 429
    assert post_token(http, other, CLIENT_CREDENTIALS).status_code == 200


def test_percent_encoding_the_client_id_does_not_open_a_second_allowance(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit("2/minute")
    encoded = "".join(f"%{ord(c):02X}" for c in billing.client_id)  # the same client to Authlib
    raw = f"{encoded}:{billing.secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    for _ in range(2):
        assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 200
    assert http.post("/token", data=CLIENT_CREDENTIALS, headers=headers).status_code == 429


def test_failed_requests_naming_a_client_do_not_use_up_its_allowance(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit("2/minute")
    forged = dataclasses.replace(billing, secret="not-the-secret")
    for _ in range(5):
        assert post_token(http, forged, CLIENT_CREDENTIALS).status_code == 401
    assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 200


def test_a_refused_grant_gives_its_use_back(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    """The client proves itself, so its request is counted, but no token is issued: the
    use is given back."""
    token_limit("2/minute")
    refused = {**CLIENT_CREDENTIALS, "scope": "no-such-scope"}
    for _ in range(4):
        assert post_token(http, billing, refused).status_code == 400
    assert [post_token(http, billing, CLIENT_CREDENTIALS).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_a_request_that_fails_on_the_way_gives_its_use_back(
    http: FlaskClient,
    billing: RegisteredClient,
    token_limit: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database drops away after the client proved itself: 503, and nothing spent."""
    token_limit("2/minute")

    def lost_connection(response: object) -> object:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patched:
        patched.setattr(oauth_routes, "_committed", lost_connection)
        for _ in range(3):
            assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 503
    db.session.rollback()
    assert [post_token(http, billing, CLIENT_CREDENTIALS).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_token_requests_at_once_get_no_more_than_the_rate(
    app: Flask, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit("3/minute")
    raw = f"{billing.client_id}:{billing.secret}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    db.session.commit()  # nothing of the test's stays open while the requests run

    def request_a_token() -> int:
        response = app.test_client().post("/token", data=CLIENT_CREDENTIALS, headers=headers)
        return response.status_code

    statuses = concurrency.at_once([request_a_token] * 12)
    assert sorted(statuses) == [200] * 3 + [429] * 9


def test_token_rate_off_means_no_limit(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    token_limit(None)
    for _ in range(5):
        assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 200


def test_manifest_pushes_over_the_limit_get_429_problem_json(
    http: FlaskClient, billing: RegisteredClient
) -> None:
    token = token_for(http, billing)
    for _ in range(30):
        assert put(http, token, MANIFEST).status_code == 200

    limited = put(http, token, MANIFEST)

    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0


def test_the_manifest_limit_is_per_client(http: FlaskClient, billing: RegisteredClient) -> None:
    token = token_for(http, billing)
    for _ in range(30):
        assert put(http, token, MANIFEST).status_code == 200
    other = token_for(http, service_client("billing"))  # a second client of the service
    assert put(http, other, MANIFEST).status_code == 200


@pytest.mark.parametrize("stranger", ["garbage-token", "client-of-another-service"])
def test_a_stranger_cannot_spend_a_services_manifest_allowance(
    http: FlaskClient, billing: RegisteredClient, stranger: str
) -> None:
    if stranger == "garbage-token":
        token, refused = "garbage", 401
    else:
        token, refused = token_for(http, service_client("shipping")), 403
    for _ in range(31):
        assert put(http, token, MANIFEST).status_code == refused

    assert put(http, token_for(http, billing), MANIFEST).status_code == 200


def test_invitations_over_the_limit_get_429_problem_json(owner: Person, org: dict) -> None:
    for n in range(60):
        assert invite(owner, org, f"person-{n}@example.com").status_code == 201

    limited = invite(owner, org, "one-too-many@example.com")

    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0


@pytest.mark.parametrize("stranger", ["no-token", "non-member"])
def test_a_stranger_cannot_spend_an_owners_invitation_allowance(
    app: Flask, owner: Person, org: dict, stranger: str
) -> None:
    if stranger == "no-token":
        attacker, refused = app.test_client(), 401
    else:
        outsider = Person(app, "outsider@example.com")
        attacker, refused = outsider.http, 404
        attacker.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {outsider.token}"
    for n in range(61):
        sent = attacker.post(
            f"/api/v1/orgs/{org['id']}/invitations",
            json={"email": f"spam-{n}@example.com", "roles": []},
        )
        assert sent.status_code in (refused, 429)

    assert invite(owner, org, "welcome@example.com").status_code == 201


def test_every_endpoint_with_a_limit_is_named_for_the_limiter(app: Flask) -> None:
    """RATE_LIMITED_ENDPOINTS lets Flask-Limiter skip the rest; a limit left out of it
    would silently never apply."""
    limited = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if get_qualified_name(view) in limiter._marked_for_limiting
    }
    assert limited == RATE_LIMITED_ENDPOINTS


def _jwt_service(name: str) -> RegisteredClient:
    make_service(name)
    return key_client(
        service_name=name,
        grant_types=["client_credentials"],
        scopes=["services:sync"],
        redirect_uris=[],
    )


def test_a_client_naming_another_spends_nobodys_allowance(
    http: FlaskClient, billing: RegisteredClient, token_limit: Callable
) -> None:
    """An assertion client that names another client_id is refused, and the client it
    named keeps its whole allowance (the rate counts authenticated clients only)."""
    token_limit("2/minute")
    attacker = _jwt_service("shipping")
    for _ in range(3):
        named = with_assertion(
            assertion(attacker.client_id), client_id=billing.client_id, **CLIENT_CREDENTIALS
        )
        assert http.post("/token", data=named).status_code == 401
    for _ in range(2):
        assert post_token(http, billing, CLIENT_CREDENTIALS).status_code == 200


def test_clients_that_name_no_client_id_each_have_their_own_allowance(
    http: FlaskClient, token_limit: Callable
) -> None:
    """RFC 7523 lets an assertion client leave client_id out: the count still follows the
    client its assertion proves, so none escapes its rate or spends another's."""
    token_limit("2/minute")
    first, second = _jwt_service("shipping"), _jwt_service("billing")

    def token_for(client: RegisteredClient) -> int:
        form = with_assertion(assertion(client.client_id), **CLIENT_CREDENTIALS)
        return http.post("/token", data=form).status_code

    assert [token_for(first) for _ in range(3)] == [200, 200, 429]
    assert [token_for(second) for _ in range(3)] == [200, 200, 429]
