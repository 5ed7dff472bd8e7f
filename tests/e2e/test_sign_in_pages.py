"""The hosted pages in a real browser on the development server and SQLite, as `make demo`
runs them: the password form, the Google button, consent, and the /demo relying party."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, browse_to_client, query_of, sign_in_with_google


@pytest.fixture
def laptop(deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy("sqlite", demo="on")
    deployment.start(gunicorn=False)
    return deployment


def public_app(deployment: Deployment) -> App:
    out = deployment.cli(
        "clients", "create", "--name", "Browser App", "--public", "--redirect-uri", CALLBACK,
        "--json",
    )  # fmt: skip
    return App(Issuer(deployment.instances[0].base), json.loads(out)["client_id"])


def test_password_sign_in_and_consent_in_a_browser(laptop: Deployment, page) -> None:  # noqa: ANN001
    laptop.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    app = public_app(laptop)

    page.goto(app.authorization_url())
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Browser App")
    assert page.get_by_text("See your email address").is_visible()
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)

    assert query_of(callback)["iss"] == app.issuer.issuer
    tokens = app.exchange(callback)
    assert tokens["token_type"] == "Bearer" and tokens["id_token"]


def test_google_sign_in_and_consent_in_a_browser(laptop: Deployment, page) -> None:  # noqa: ANN001
    app = public_app(laptop)
    tokens = app.exchange(sign_in_with_google(page, app.authorization_url()))
    claims = app.issuer.verify(tokens["id_token"], audience=app.client_id)
    assert claims["email"] == "grace@example.com" and claims["nonce"] == app.nonce


def test_the_demo_page_walks_through_a_real_login(laptop: Deployment, page) -> None:  # noqa: ANN001
    out = laptop.cli("demo", "setup")
    password = re.search(r"password: (\S+)", out).group(1)
    page.goto(laptop.instances[0].base + "/demo")
    page.get_by_role("link", name="Sign in with authserver").click()
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_selector("text=It worked")
    assert "demo@example.com" in page.content()
    # Its access token, asked for with resource=auth, reads the person's orgs from the API.
    assert "The API's answer (200)" in page.content() and '"slug": "demo"' in page.content()
    page.screenshot(path=str(Path(laptop.env["AUTHSERVER_INSTANCE_DIR"]) / "demo.png"))
