"""The admin console in Chromium, under gunicorn on PostgreSQL: an operator signs in,
registers a client, rotates the signing key and disables a person, and a client app and
/introspect see each effect."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
from joserfc import jws

from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, sign_in_with_google

ROOT_PASSWORD = "operator's long password"
# `SCREENSHOTS_DIR=docs/images make test` refreshes the README's picture of the console.
SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")


@pytest.fixture
def production(deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy("postgresql")
    deployment.cli(
        "users", "create", "--email", "root@example.com", "--name", "Rory Root",
        "--platform-role", "root", "--password-stdin", stdin=ROOT_PASSWORD + "\n",
    )  # fmt: skip
    deployment.start()
    return deployment


def screenshot(deployment: Deployment, page, name: str) -> None:  # noqa: ANN001
    path = Path(deployment.env["AUTHSERVER_INSTANCE_DIR"]) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if SCREENSHOTS_DIR:
        shutil.copy(path, Path(SCREENSHOTS_DIR) / f"{name}.png")


def is_complaint(message) -> bool:  # noqa: ANN001
    # A failed load is reported with its URL by is_missing.
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def is_missing(response) -> bool:  # noqa: ANN001
    # The browser asks for /favicon.ico on its own; we serve none.
    return response.status == 404 and not response.url.endswith("/favicon.ico")


def introspect(app: App, token: str) -> dict:
    response = app.session.introspect_token(app.issuer["introspection_endpoint"], token=token)
    assert response.status_code == 200
    return response.json()


def test_an_operator_runs_the_server_from_the_console(
    production: Deployment,
    browser,  # noqa: ANN001
) -> None:
    base = production.instances[0].base
    operator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    operator.on("dialog", lambda dialog: dialog.accept())  # admin.js asks before changes
    problems: list[str] = []  # CSP violations, script errors, missing files show up here
    operator.on("pageerror", lambda error: problems.append(str(error)))
    operator.on("console", lambda m: problems.append(m.text) if is_complaint(m) else None)
    operator.on("response", lambda r: problems.append(r.url) if is_missing(r) else None)

    # Enter: the console sends an operator to the sign-in page and back; a password alone
    # does not open it, so this operator, who has no second factor yet, sets one up first.
    operator.goto(base + "/admin/people")
    operator.get_by_label("Email").fill("root@example.com")
    operator.get_by_label("Password").fill(ROOT_PASSWORD)
    operator.get_by_role("button", name="Sign in").click()
    operator.get_by_role("button", name="Set up an authenticator app").click()
    app_totp = pyotp.TOTP(operator.locator("[data-totp-secret]").inner_text())
    operator.get_by_label("Code the app shows now").fill(app_totp.now())
    operator.get_by_role("button", name="Confirm").click()
    operator.wait_for_selector("[data-recovery-codes]")
    # A factor set up in a password-only session does not open the console: sign in with it.
    operator.goto(base + "/admin/")
    operator.get_by_label("Email").fill("root@example.com")
    operator.get_by_label("Password").fill(ROOT_PASSWORD)
    operator.get_by_role("button", name="Sign in").click()
    # The next step's code: the enrolment spent this one, one step ahead is in the window.
    operator.get_by_label("Code from your authenticator app").fill(app_totp.at(time.time() + 30))
    operator.get_by_role("button", name="Continue").click()
    operator.wait_for_selector("h1:has-text('Dashboard')")

    # Register a confidential client; its secret is shown once.
    operator.get_by_role("link", name="Clients").click()
    operator.get_by_role("link", name="Register a client").click()
    operator.get_by_label("Name (shown on the consent page)").fill("Console Notes")
    operator.get_by_label("Redirect URIs (one per line, matched exactly)").fill(CALLBACK)
    operator.get_by_role("button", name="Register").click()
    operator.wait_for_selector("h1:has-text('Client registered')")
    client_id = operator.locator("p:has-text('client_id') .mono").inner_text()
    secret = operator.locator("#client-secret").inner_text()

    # A person signs in to that client in a browser of their own.
    app = App(Issuer(base), client_id, secret)
    person = browser.new_context().new_page()
    tokens = app.exchange(sign_in_with_google(person, app.authorization_url()))
    assert introspect(app, tokens["access_token"])["active"] is True
    old_kid = app.issuer.key_set().keys[0].kid

    # Rotate the signing key at once (root); the client's next token is signed by the new key.
    operator.get_by_role("link", name="Keys").click()
    operator.get_by_label("sign with it at once").check()
    operator.get_by_role("button", name="Rotate").click()
    operator.wait_for_selector("text=(signing)")
    refreshed = app.refresh(tokens["refresh_token"])
    new_kid = jws.extract_compact(refreshed["access_token"].encode()).protected["kid"]
    assert new_kid != old_kid
    app.issuer.verify(refreshed["access_token"], audience=client_id, typ="at+jwt")
    screenshot(production, operator, "admin-keys")

    # Find the person and disable them: their tokens stop at once.
    operator.get_by_role("link", name="People").click()
    operator.locator("td a", has_text="root@example.com").wait_for()
    operator.get_by_label("Email or name starts with").fill("grace")  # results as you type
    operator.locator("td a", has_text="root@example.com").wait_for(state="detached")
    assert operator.url.endswith("/admin/people?q=grace")
    operator.get_by_role("link", name="grace@example.com").click()
    operator.wait_for_selector("text=Console Notes")
    screenshot(production, operator, "admin-person")
    operator.get_by_role("button", name="Disable").click()
    operator.wait_for_selector("button:has-text('Enable')")

    assert introspect(app, refreshed["access_token"]) == {"active": False}
    refused = app.token_request(
        app.issuer["token_endpoint"],
        grant_type="refresh_token",
        refresh_token=refreshed["refresh_token"],
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    # The audit log names the operator for each change.
    operator.get_by_role("link", name="Audit log").click()
    operator.get_by_label("Actor").fill("root@example.com")
    operator.get_by_role("button", name="Filter").click()
    operator.wait_for_url(re.compile(r"/admin/audit\?.*actor=root"))  # count() does not wait
    for event_type in ("user.disabled", "key.rotated", "client.created"):
        assert operator.locator(f"summary:has-text('{event_type}')").count() == 1
    operator.locator("summary:has-text('user.disabled')").click()
    assert '"actor_user_id": null' not in operator.locator("details[open] pre").inner_text()
    screenshot(production, operator, "admin-audit")

    # Every other page renders, with its script, and without a single browser complaint.
    for link, heading in (("Dashboard", "Dashboard"), ("Services", "Services"),
                          ("Organizations", "Organizations"), ("Clients", "Clients")):  # fmt: skip
        operator.get_by_role("link", name=link, exact=True).click()
        operator.wait_for_selector(f"h1:has-text('{heading}')")
    operator.get_by_role("link", name="Console Notes").click()
    operator.get_by_role("link", name="Delete this client…").click()
    operator.wait_for_selector("h1:has-text('Delete Console Notes?')")
    operator.goto(base + "/admin/services/auth")
    operator.wait_for_selector("text=auth:owner")
    assert problems == []
