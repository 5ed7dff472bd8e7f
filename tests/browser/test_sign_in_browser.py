"""A real browser (Debian's Chromium through Playwright) against a real server process:
sign in with the password form and through a fake Google, approve consent, and reach the
client's redirect with a code that exchanges for tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e_helpers import CHROMIUM, CHROMIUM_ARGS, Server, free_port, run_cli, server_env
from tests.fake_upstream import CLIENT_ID, CLIENT_SECRET, FakeProvider

playwright_api = pytest.importorskip("playwright.sync_api")

CALLBACK = "http://127.0.0.1:9/callback"  # nothing listens: the browser stops there


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs Debian's chromium package")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def fake_google() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    provider.reset()
    yield provider
    provider.stop()


@pytest.fixture
def server(
    tmp_path: Path, new_database_url: Callable[[str], str], fake_google: FakeProvider
) -> Iterator[tuple[Server, dict[str, str]]]:
    port = free_port()
    env = server_env(
        tmp_path,
        new_database_url("sqlite"),
        port,
        demo="on",
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_issuer=fake_google.issuer,
    )
    run_cli(env, "init")
    running = Server(env, port)
    yield running, env
    running.stop()


def register_app(env: dict[str, str]) -> str:
    out = run_cli(
        env,
        "clients",
        "create",
        "--name",
        "Browser App",
        "--public",
        "--redirect-uri",
        CALLBACK,
        "--json",
    )
    return json.loads(out)["client_id"]


def authorize_url(base: str, client_id: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid email profile",
            "state": "s1",
            "code_challenge_method": "S256",
            "code_challenge": challenge.rstrip(b"=").decode(),
        }
    )
    return f"{base}/authorize?{query}", verifier


def exchange(base: str, client_id: str, code: str, verifier: str) -> dict:
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": client_id,
            "code_verifier": verifier,
        }
    ).encode()
    with urllib.request.urlopen(f"{base}/token", data=body, timeout=10) as response:
        return json.loads(response.read())


def test_password_sign_in_and_consent_in_a_browser(browser, server) -> None:  # noqa: ANN001
    running, env = server
    run_cli(
        env,
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--name",
        "Ada",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    client_id = register_app(env)
    url, verifier = authorize_url(running.base, client_id)

    page = browser.new_page()
    page.goto(url)
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Browser App")
    assert page.get_by_text("See your email address").is_visible()
    with page.expect_request(re.compile(r"^http://127\.0\.0\.1:9/callback")) as request:
        page.get_by_role("button", name="Allow").click()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.value.url).query)
    assert query["state"] == ["s1"] and query["iss"] == [running.base]
    tokens = exchange(running.base, client_id, query["code"][0], verifier)
    assert tokens["token_type"] == "Bearer" and tokens["id_token"]
    page.close()


def test_google_sign_in_and_consent_in_a_browser(browser, server) -> None:  # noqa: ANN001
    running, env = server
    client_id = register_app(env)
    url, verifier = authorize_url(running.base, client_id)

    page = browser.new_page()
    page.goto(url)
    page.get_by_role("link", name="Continue with Google").click()
    page.wait_for_selector("text=Browser App")
    with page.expect_request(re.compile(r"^http://127\.0\.0\.1:9/callback")) as request:
        page.get_by_role("button", name="Allow").click()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.value.url).query)
    tokens = exchange(running.base, client_id, query["code"][0], verifier)
    assert tokens["id_token"]
    page.close()


def test_the_demo_page_walks_through_a_real_login(browser, server) -> None:  # noqa: ANN001
    running, env = server
    out = run_cli(env, "demo", "setup")
    password = re.search(r"password: (\S+)", out).group(1)
    page = browser.new_page()
    page.goto(running.base + "/demo")
    page.get_by_role("link", name="Sign in with authserver").click()
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_selector("text=It worked")
    assert "demo@example.com" in page.content()
    page.screenshot(path=str(Path(env["AUTHSERVER_INSTANCE_DIR"]) / "demo.png"))
    page.close()
