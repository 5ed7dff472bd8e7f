"""Two gunicorn instances on separate ports share one PostgreSQL database and one keys
directory, as instances behind a load balancer do: any of them finishes what another began."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from joserfc import jws

from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, sign_in_with_google
from tests.e2e.processes import Server, free_port


@dataclass
class Pair:
    deployment: Deployment
    a: Server
    b: Server

    def token_endpoint(self, server: Server) -> str:
        return server.base + "/token"

    def jwks_uri(self, server: Server) -> str:
        return server.base + "/jwks.json"


@pytest.fixture
def pair(deploy: Callable[..., Deployment]) -> Pair:
    # Grace window off: a replayed refresh token is reuse at once. Keys reload as in production.
    deployment = deploy("postgresql", refresh_grace_period="0", key_reload_interval="1")
    return Pair(deployment, deployment.start(), deployment.start(free_port()))


@pytest.fixture
def web_app(pair: Pair) -> App:
    out = pair.deployment.cli(
        "clients", "create", "--name", "Notes", "--redirect-uri", CALLBACK, "--json"
    )
    client = json.loads(out)
    return App(Issuer(pair.a.base), client["client_id"], client["client_secret"])


def kid_of(token: str) -> str:
    return jws.extract_compact(token.encode()).protected["kid"]


def test_a_code_from_one_instance_is_redeemed_on_the_other(pair: Pair, web_app: App, page) -> None:  # noqa: ANN001
    callback = sign_in_with_google(page, web_app.authorization_url())

    tokens = web_app.exchange(callback, token_endpoint=pair.token_endpoint(pair.b))

    claims = web_app.issuer.verify(
        tokens["id_token"], audience=web_app.client_id, jwks_uri=pair.jwks_uri(pair.b)
    )
    assert claims["nonce"] == web_app.nonce and claims["iss"] == pair.a.base


def test_a_session_started_on_one_instance_is_valid_on_the_other(
    pair: Pair,
    web_app: App,
    page,  # noqa: ANN001
) -> None:
    sign_in_with_google(page, web_app.authorization_url())
    cookies = {c["name"]: c["value"] for c in page.context.cookies(pair.a.base)}

    account = requests.get(pair.b.base + "/account", cookies=cookies, timeout=10)
    stranger = requests.get(pair.b.base + "/account", allow_redirects=False, timeout=10)

    assert account.status_code == 200 and "grace@example.com" in account.text
    assert stranger.status_code == 303 and "/sign-in" in stranger.headers["Location"]


def test_a_refresh_token_replayed_on_the_other_instance_revokes_the_family(
    pair: Pair,
    web_app: App,
    page,  # noqa: ANN001
) -> None:
    tokens = web_app.exchange(sign_in_with_google(page, web_app.authorization_url()))
    rotated = web_app.refresh(tokens["refresh_token"], token_endpoint=pair.token_endpoint(pair.b))

    replay = web_app.token_request(
        pair.token_endpoint(pair.a),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
    )
    successor = web_app.token_request(
        pair.token_endpoint(pair.b),
        grant_type="refresh_token",
        refresh_token=rotated["refresh_token"],
    )

    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert successor.status_code == 400 and successor.json()["error"] == "invalid_grant"
    introspection = web_app.session.introspect_token(
        pair.b.base + "/introspect", token=rotated["access_token"]
    )
    assert introspection.json() == {"active": False}


def service_token(pair: Pair, server: Server, client_id: str, secret: str) -> str:
    response = requests.post(
        pair.token_endpoint(server),
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def published_kids(pair: Pair, server: Server) -> set[str]:
    jwks = requests.get(pair.jwks_uri(server), timeout=10).json()
    return {key["kid"] for key in jwks["keys"]}


def test_a_key_rotation_reaches_both_instances_without_a_restart(pair: Pair) -> None:
    client = json.loads(pair.deployment.cli("clients", "create", "--name", "Billing",
                                            "--service", "billing", "--json"))  # fmt: skip
    credentials = (client["client_id"], client["client_secret"])
    before = service_token(pair, pair.a, *credentials)
    old_kid = kid_of(before)

    pair.deployment.cli("keys", "rotate", "--now")

    issuer = Issuer(pair.a.base)
    for server in (pair.a, pair.b):
        eventually(lambda s=server: len(published_kids(pair, s)) == 2)
        eventually(lambda s=server: kid_of(service_token(pair, s, *credentials)) != old_kid)
        after = service_token(pair, server, *credentials)
        for token in (before, after):  # a service's own token is for our API, `auth`
            issuer.verify(token, audience="auth", jwks_uri=pair.jwks_uri(server))


def eventually(check: Callable[[], bool]) -> None:
    """Poll what another process changes: each worker rereads keys/ within a second."""
    deadline = time.monotonic() + 15
    while not check():
        assert time.monotonic() < deadline, "a running instance did not pick up the new key"
        time.sleep(0.2)
