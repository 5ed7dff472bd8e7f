"""A single-page app in Chromium: after signing in it redeems its code, reads /userinfo and
revokes with fetch from its own origin (CORS); a page at another origin cannot."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.e2e.conftest import Deployment
from tests.e2e.outside import APP, APP_PAGES, CALLBACK, App, Issuer, browse_to_client, query_of

PASSWORD = "correct horse battery"

FETCH = """async ([url, init]) => {
  try {
    const response = await fetch(url, init);
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""


def post_form(page, url: str, form: dict[str, str]) -> dict:  # noqa: ANN001
    body = "&".join(f"{k}={v}" for k, v in form.items())
    init = {
        "method": "POST",
        "body": body,
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }
    return page.evaluate(FETCH, [url, init])


def test_a_browser_app_uses_the_token_endpoints_from_its_own_origin_only(
    deploy: Callable[..., Deployment], page
) -> None:  # noqa: ANN001
    laptop = deploy("sqlite")
    laptop.start(gunicorn=False)
    laptop.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    out = laptop.cli(
        "clients", "create", "--name", "Browser App", "--public", "--redirect-uri", CALLBACK,
        "--json",
    )  # fmt: skip
    app = App(Issuer(laptop.instances[0].base), json.loads(out)["client_id"])

    page.goto(app.authorization_url())
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)
    page.wait_for_url(APP + "/**")
    form = {
        "grant_type": "authorization_code",
        "code": query_of(callback)["code"],
        "redirect_uri": CALLBACK,
        "code_verifier": app.verifier,
        "client_id": app.client_id,
    }

    tokens = post_form(page, app.issuer["token_endpoint"], form)
    assert tokens["status"] == 200, tokens
    access_token = tokens["body"]["access_token"]

    # A Bearer header makes the browser send a preflight first.
    info = page.evaluate(
        FETCH,
        [app.issuer["userinfo_endpoint"], {"headers": {"Authorization": f"Bearer {access_token}"}}],
    )
    assert info == {"status": 200, "body": info["body"]} and info["body"]["email"] == (
        "ada@example.com"
    )
    revoked = post_form(
        page,
        app.issuer["revocation_endpoint"],
        {"token": tokens["body"]["refresh_token"], "client_id": app.client_id},
    )
    assert revoked["status"] == 200, revoked

    # Another origin (localhost is not 127.0.0.1) cannot read an answer, nor get past the
    # preflight of a Bearer request.
    page.goto(f"http://localhost:{APP_PAGES.server_port}/elsewhere")
    junk = {"grant_type": "refresh_token", "refresh_token": "junk", "client_id": app.client_id}
    assert "blocked" in post_form(page, app.issuer["token_endpoint"], junk)
    bearer = {"headers": {"Authorization": f"Bearer {access_token}"}}
    assert "blocked" in page.evaluate(FETCH, [app.issuer["userinfo_endpoint"], bearer])
