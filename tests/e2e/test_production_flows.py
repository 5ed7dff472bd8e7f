"""The whole protocol as it runs in production: gunicorn with 2 workers on PostgreSQL, a
fake Google on another loopback port, a person in Chromium, and client apps and a resource
server that know only what discovery and the JWKS tell them."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable

import pytest
import requests

from tests.e2e.conftest import Deployment
from tests.e2e.outside import (
    CALLBACK,
    SIGNED_OUT,
    App,
    Issuer,
    browse_to_client,
    query_of,
    sign_in_with_google,
)


@pytest.fixture
def production(deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy("postgresql")
    deployment.start()
    return deployment


def register(deployment: Deployment, *options: str) -> tuple[str, str | None]:
    out = deployment.cli(
        "clients", "create", "--name", "Notes", "--redirect-uri", CALLBACK,
        "--post-logout-redirect-uri", SIGNED_OUT, "--json", *options,
    )  # fmt: skip
    client = json.loads(out)
    return client["client_id"], client["client_secret"]


@pytest.fixture
def web_app(production: Deployment) -> App:
    client_id, secret = register(production)
    return App(Issuer(production.instances[0].base), client_id, secret)


@pytest.fixture
def public_app(production: Deployment) -> App:
    client_id, _ = register(production, "--public")
    return App(Issuer(production.instances[0].base), client_id)


def introspect(app: App, token: str) -> dict:
    response = app.session.introspect_token(app.issuer["introspection_endpoint"], token=token)
    assert response.status_code == 200
    return response.json()


def test_a_confidential_web_app_signs_a_person_in_with_google(web_app: App, page) -> None:  # noqa: ANN001
    callback = sign_in_with_google(page, web_app.authorization_url())
    assert query_of(callback)["iss"] == web_app.issuer.issuer

    tokens = web_app.exchange(callback)

    id_claims = web_app.issuer.verify(tokens["id_token"], audience=web_app.client_id)
    assert id_claims["nonce"] == web_app.nonce
    assert id_claims["email"] == "grace@example.com" and id_claims["email_verified"] is True
    access = web_app.issuer.verify(tokens["access_token"], audience=web_app.client_id, typ="at+jwt")
    assert access["sub"] == id_claims["sub"] and access["client_id"] == web_app.client_id
    userinfo = web_app.session.get(web_app.issuer["userinfo_endpoint"]).json()
    assert userinfo["sub"] == id_claims["sub"] and userinfo["name"] == "Grace Hopper"


def test_a_public_app_uses_pkce_without_a_secret(public_app: App, page) -> None:  # noqa: ANN001
    tokens = public_app.exchange(sign_in_with_google(page, public_app.authorization_url()))

    claims = public_app.issuer.verify(tokens["access_token"], audience=public_app.client_id)
    # Sent as "openid email profile offline_access"; kept in its canonical order.
    assert claims["scope"] == "openid profile email offline_access"
    refreshed = public_app.refresh(tokens["refresh_token"])
    assert refreshed["refresh_token"] != tokens["refresh_token"]


def test_a_code_without_its_verifier_is_refused(public_app: App, page) -> None:  # noqa: ANN001
    callback = sign_in_with_google(page, public_app.authorization_url())
    response = public_app.token_request(
        public_app.issuer["token_endpoint"],
        grant_type="authorization_code",
        code=query_of(callback)["code"],
        redirect_uri=CALLBACK,
        code_verifier="not-the-verifier-" + "x" * 40,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_revocation_ends_the_family(web_app: App, page) -> None:  # noqa: ANN001
    tokens = web_app.exchange(sign_in_with_google(page, web_app.authorization_url()))

    rotated = web_app.refresh(tokens["refresh_token"])
    assert rotated["refresh_token"] != tokens["refresh_token"]
    new_access = web_app.issuer.verify(
        rotated["access_token"], audience=web_app.client_id, typ="at+jwt"
    )
    assert (
        new_access["jti"]
        != web_app.issuer.verify(tokens["access_token"], audience=web_app.client_id)["jti"]
    )
    assert introspect(web_app, rotated["access_token"])["active"] is True

    web_app.session.revoke_token(
        web_app.issuer["revocation_endpoint"], rotated["refresh_token"], "refresh_token"
    )

    refused = web_app.token_request(
        web_app.issuer["token_endpoint"],
        grant_type="refresh_token",
        refresh_token=rotated["refresh_token"],
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert introspect(web_app, rotated["access_token"]) == {"active": False}


def test_logout_ends_the_session_and_prompt_none_then_needs_a_login(
    web_app: App,
    page,  # noqa: ANN001
) -> None:
    web_app.session.scope = "openid email"  # no offline_access: the grant ends with the session
    tokens = web_app.exchange(sign_in_with_google(page, web_app.authorization_url()))
    silent = browse_to_client(page, lambda: page.goto(web_app.authorization_url(prompt="none")))
    assert "code" in query_of(silent)

    logout = (
        web_app.issuer["end_session_endpoint"]
        + "?"
        + urllib.parse.urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": SIGNED_OUT,
                "state": "z",
            }
        )
    )
    signed_out = browse_to_client(page, lambda: page.goto(logout))
    assert signed_out == SIGNED_OUT + "?state=z"

    after = query_of(
        browse_to_client(page, lambda: page.goto(web_app.authorization_url(prompt="none")))
    )
    assert after["error"] == "login_required" and after["iss"] == web_app.issuer.issuer
    assert introspect(web_app, tokens["access_token"]) == {"active": False}
    assert (
        requests.get(
            web_app.issuer["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        ).status_code
        == 401
    )


def test_the_logs_of_a_whole_flow_hold_no_secret(
    production: Deployment,
    web_app: App,
    page,  # noqa: ANN001
) -> None:
    password = "correct horse battery staple"
    production.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin=password + "\n",
    )  # fmt: skip
    page.goto(web_app.authorization_url())
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)
    tokens = web_app.exchange(callback)
    rotated = web_app.refresh(tokens["refresh_token"])
    web_app.session.get(web_app.issuer["userinfo_endpoint"])
    introspect(web_app, rotated["access_token"])
    web_app.session.revoke_token(web_app.issuer["revocation_endpoint"], rotated["refresh_token"])
    cookies = [c["value"] for c in page.context.cookies()]
    production.stop()  # flush every worker's output

    log = production.instances[0].log.read_text()
    secrets = [
        password,
        query_of(callback)["code"],
        web_app.session.client_secret,
        *[tokens[name] for name in ("access_token", "refresh_token", "id_token")],
        *[rotated[name] for name in ("access_token", "refresh_token")],
        *cookies,
    ]
    for secret in secrets:
        assert secret not in log
    requests_logged = [json.loads(line) for line in log.splitlines() if '"route"' in line]
    assert {"/token", "/userinfo", "/introspect", "/revoke"} <= {
        r["route"] for r in requests_logged
    }
    assert all(r["request_id"] for r in requests_logged)
