"""A database outage under gunicorn: the connection to PostgreSQL is cut under a running
server. Every endpoint that needs the database answers 503 with Retry-After in its own
format, what is served from memory keeps working, nothing is half-written, and service
resumes by itself when the database returns."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, browse_to_client
from tests.e2e.tcp_proxy import CuttableProxy


@pytest.fixture
def proxied(deploy: Callable[..., Deployment]) -> Iterator[tuple[Deployment, CuttableProxy]]:
    deployment = deploy("postgresql")
    direct = make_url(deployment.env["AUTHSERVER_DATABASE_URL"])
    proxy = CuttableProxy(direct.port or 5432).start()
    deployment.env["AUTHSERVER_DATABASE_URL"] = direct.set(port=proxy.port).render_as_string(
        hide_password=False
    )
    deployment.start()
    yield deployment, proxy
    deployment.stop()
    proxy.stop()


def signed_in(deployment: Deployment, page) -> tuple[App, dict, dict[str, str]]:  # noqa: ANN001
    """A person signed in with a password in the browser, and a web app holding tokens."""
    deployment.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    client = json.loads(
        deployment.cli("clients", "create", "--name", "Notes", "--redirect-uri", CALLBACK, "--json")
    )
    app = App(
        Issuer(deployment.instances[0].base),
        client["client_id"],
        client["client_secret"],
        scope="openid email offline_access orgs",
    )
    # A token for our API (README "API audience and scopes"), which the outage test calls.
    page.goto(app.authorization_url(resource="auth"))
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    tokens = app.exchange(browse_to_client(page, page.get_by_role("button", name="Allow").click))
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return app, tokens, cookies


def test_an_outage_is_answered_with_503_and_service_resumes_by_itself(proxied, page) -> None:  # noqa: ANN001
    deployment, proxy = proxied
    app, tokens, cookies = signed_in(deployment, page)
    base = deployment.instances[0].base

    def refresh() -> requests.Response:
        return app.token_request(
            app.issuer["token_endpoint"],
            grant_type="refresh_token",
            refresh_token=tokens["refresh_token"],
        )

    def orgs() -> requests.Response:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        return requests.get(base + "/api/v1/orgs", headers=bearer, timeout=30)

    def account() -> requests.Response:
        return requests.get(base + "/account", cookies=cookies, timeout=30)

    proxy.cut()

    refused = refresh()
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert refused.json()["error"] == "temporarily_unavailable"
    # Again and again: once the pooled connections are found dead, each request has to open
    # a new one, and that failure is a 503 too.
    for _ in range(4):
        problem = orgs()
        assert problem.status_code == 503 and problem.headers["Retry-After"]
        assert problem.headers["Content-Type"] == "application/problem+json"
        assert problem.json()["status"] == 503
    page_answer = account()
    assert page_answer.status_code == 503 and page_answer.headers["Retry-After"]
    assert "text/html" in page_answer.headers["Content-Type"]
    assert "briefly unavailable" in page_answer.text
    assert requests.get(base + "/readyz", timeout=30).status_code == 503
    for served_from_memory in ("/healthz", "/jwks.json", "/.well-known/openid-configuration"):
        assert requests.get(base + served_from_memory, timeout=30).status_code == 200

    proxy.restore()

    # The refresh refused during the outage consumed nothing: the same token rotates now.
    rotated = eventually(refresh)
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    assert eventually(orgs).status_code == 200
    assert "ada@example.com" in eventually(account).text
    assert requests.get(base + "/readyz", timeout=30).status_code == 200


def eventually(send: Callable[[], requests.Response]) -> requests.Response:
    """Resend until the answer is 200: a worker may first meet a connection that died with
    the outage (a 503), then reconnects by itself: within a deadline, not a count of
    tries, since reconnecting takes what a loaded machine gives it."""
    deadline = time.monotonic() + 30
    while True:
        response = send()
        if response.status_code == 200:
            return response
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "service did not resume after the database returned"
        time.sleep(0.1)
