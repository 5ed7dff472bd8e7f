"""Second factors in Chromium against gunicorn on PostgreSQL: an authenticator app whose
codes the test computes from the secret the page shows, recovery codes, and security keys
and passkeys through Chromium's virtual authenticator (CDP WebAuthn domain): register, use
as a second factor, sign in with a passkey alone; replay, expiry, wrong origin, a counter
that did not grow and a missing user verification fail."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyotp
import pytest
import requests

from tests.conftest import PostgresDatabases
from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, browse_to_client
from tests.e2e.processes import free_port, server_env

PASSWORD = "correct horse battery staple"
ACR_MULTI_FACTOR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases | None
) -> Iterator[Deployment]:
    """One deployment for the module. The issuer is http://localhost:<port>: WebAuthn
    needs a domain for its relying party id (an IP address is refused by browsers)."""
    if postgres_databases is None:
        pytest.skip("no PostgreSQL server")
    tmp, port = tmp_path_factory.mktemp("webauthn"), free_port()
    env = server_env(tmp, postgres_databases.create(), f"http://localhost:{port}")
    made = Deployment(env, Path(tmp), port)
    made.cli("init")
    made.start()
    yield made
    made.stop()


@pytest.fixture
def base(deployment: Deployment) -> str:
    return deployment.env["AUTHSERVER_ISSUER"]


@pytest.fixture
def email(deployment: Deployment) -> str:
    address = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    deployment.cli(
        "users", "create", "--email", address, "--name", "Ada", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return address


def add_authenticator(page, *, discoverable: bool, verifies: bool = True) -> str:  # noqa: ANN001
    """A virtual authenticator that answers at once and (unless told otherwise) verifies
    the person (PIN or biometric); a discoverable one stores passkeys, the other only
    security-key credentials."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": discoverable,
                "hasUserVerification": verifies,
                "isUserVerified": verifies,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return added["authenticatorId"]


@pytest.fixture
def authenticator(page) -> str:  # noqa: ANN001
    return add_authenticator(page, discoverable=True)


@pytest.fixture
def security_key(page) -> str:  # noqa: ANN001
    return add_authenticator(page, discoverable=False)


@pytest.fixture
def no_conditional_ui(page) -> None:  # noqa: ANN001
    """A browser without conditional mediation, where the passkey button is the way (and
    tests that press it are not raced by the autofill request)."""
    page.add_init_script(
        "Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable',"
        " {value: undefined})"
    )


@pytest.fixture
def app(deployment: Deployment) -> App:
    out = deployment.cli(
        "clients", "create", "--name", "Notes", "--public", "--redirect-uri", CALLBACK, "--json"
    )
    return App(Issuer(deployment.instances[0].base), json.loads(out)["client_id"])


def sql(deployment: Deployment, statement: str, **params: object) -> list[tuple]:
    with psycopg.connect(deployment.env["AUTHSERVER_DATABASE_URL"], autocommit=True) as db:
        cursor = db.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def sign_in_with_password(page, email: str) -> None:  # noqa: ANN001
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def register_key(page, base: str, email: str) -> None:  # noqa: ANN001
    """Sign in with the password, add a key on the security page, keep the codes."""
    page.goto(base + "/sign-in?return_to=security")
    sign_in_with_password(page, email)
    page.wait_for_selector("text=Sign-in security")
    page.get_by_label("Name").fill("Laptop")
    page.get_by_role("button", name="Add a security key or passkey").click()
    page.wait_for_selector("text=Your recovery codes")
    assert page.locator("[data-recovery-codes] li").count() == 10
    page.get_by_role("link", name="I have saved them").click()
    page.wait_for_selector("text=Laptop")
    page.context.clear_cookies()  # signed out: the authenticator keeps its credential


def passkey_form_post(page):  # noqa: ANN001, ANN201
    return page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/sign-in/passkey"))


def test_a_registered_key_is_the_second_factor_after_the_password(
    page,
    base: str,
    email: str,
    security_key: str,
    app: App,  # noqa: ANN001
) -> None:
    register_key(page, base, email)
    page.goto(app.authorization_url())
    sign_in_with_password(page, email)
    page.wait_for_selector("text=One more step")
    page.get_by_role("button", name="Use your security key or passkey").click()
    page.wait_for_selector("button:has-text('Allow')")
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)

    claims = app.issuer.verify(app.exchange(callback)["id_token"], audience=app.client_id)
    assert claims["amr"] == ["pwd", "hwk", "user", "mfa"]
    assert claims["acr"] == ACR_MULTI_FACTOR


def test_the_browser_autofill_offers_the_passkey_and_signs_in(
    page,
    base: str,
    email: str,
    authenticator: str,
    app: App,  # noqa: ANN001
) -> None:
    """Conditional mediation: the sign-in page asks on load, the browser offers the
    passkey in the email field's autofill (the virtual authenticator accepts it at once)."""
    register_key(page, base, email)
    page.goto(app.authorization_url())
    page.wait_for_selector("button:has-text('Allow')")  # no email typed, no button pressed
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)
    claims = app.issuer.verify(app.exchange(callback)["id_token"], audience=app.client_id)
    assert claims["amr"] == ["hwk", "user", "mfa"] and claims["acr"] == ACR_MULTI_FACTOR


def test_the_passkey_button_signs_in_where_there_is_no_conditional_ui(
    page, base: str, email: str, authenticator: str, no_conditional_ui: None,  # noqa: ANN001
    app: App, deployment: Deployment,
) -> None:  # fmt: skip
    register_key(page, base, email)
    page.goto(app.authorization_url())
    field = page.get_by_label("Email")
    assert field.get_attribute("autocomplete") == "username webauthn"
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("button:has-text('Allow')")
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)

    claims = app.issuer.verify(app.exchange(callback)["id_token"], audience=app.client_id)
    assert claims["amr"] == ["hwk", "user", "mfa"] and claims["acr"] == ACR_MULTI_FACTOR
    counted = sql(
        deployment,
        "SELECT sign_count FROM mfa_webauthn_credentials c "
        "JOIN users u ON u.id = c.user_id WHERE u.email = %(e)s",
        e=email,
    )
    (count,) = counted[0]
    assert count > 0  # the counter moved with the assertion


def browser_cookies(page) -> dict[str, str]:  # noqa: ANN001
    return {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}


def test_a_replayed_passkey_assertion_is_refused(
    page, base: str, email: str, authenticator: str, no_conditional_ui: None,  # noqa: ANN001
    deployment: Deployment,
) -> None:  # fmt: skip
    register_key(page, base, email)
    page.goto(base + "/sign-in")
    with passkey_form_post(page) as posted:
        page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=You are signed in")
    body = posted.value.post_data

    replay = requests.post(
        base + "/sign-in/passkey",
        data=body,
        cookies=browser_cookies(page),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": base + "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert replay.status_code == 401 and "authserver_session" not in replay.cookies


def test_an_expired_challenge_is_refused(
    page, base: str, email: str, authenticator: str, no_conditional_ui: None,  # noqa: ANN001
    deployment: Deployment,
) -> None:  # fmt: skip
    register_key(page, base, email)
    page.goto(base + "/sign-in")

    def expire_then_send(route) -> None:  # noqa: ANN001
        sql(deployment, "UPDATE mfa_webauthn_challenges SET expires_at = now() - interval '1 s'")
        route.continue_()

    page.route("**/sign-in/passkey", expire_then_send)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=That passkey did not work")
    assert "authserver_session" not in browser_cookies(page)


def test_an_assertion_made_for_another_origin_is_refused(
    page, base: str, email: str, authenticator: str, no_conditional_ui: None,  # noqa: ANN001
    deployment: Deployment,
) -> None:  # fmt: skip
    """Another port on the same host: the browser lets the page use the relying party id
    `localhost`, so only our origin check stands between it and a session."""
    register_key(page, base, email)
    other = deployment.start(free_port())
    elsewhere = other.base.replace("127.0.0.1", "localhost")
    page.goto(elsewhere + "/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=That passkey did not work")
    refusals = sql(
        deployment,
        "SELECT details->>'reason' FROM audit_events WHERE event_type = 'sign_in' "
        "AND outcome = 'failure' ORDER BY occurred_at DESC LIMIT 1",
    )
    assert "origin" in refusals[0][0].lower()


def test_a_sign_counter_that_did_not_grow_is_refused(
    page, base: str, email: str, authenticator: str, no_conditional_ui: None,  # noqa: ANN001
    deployment: Deployment,
) -> None:  # fmt: skip
    """WebAuthn §7.2 step 21: a stored counter ahead of the authenticator's may mean a
    cloned key."""
    register_key(page, base, email)
    sql(
        deployment,
        "UPDATE mfa_webauthn_credentials SET sign_count = 1000 WHERE user_id = "
        "(SELECT id FROM users WHERE email = %(e)s)",
        e=email,
    )
    page.goto(base + "/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=That passkey did not work")


def test_a_passkey_that_did_not_verify_the_person_does_not_sign_in(
    page,
    base: str,
    email: str,
    no_conditional_ui: None,
    deployment: Deployment,  # noqa: ANN001
) -> None:
    """A passkey alone must be two factors: the server requires the UV flag (WebAuthn
    §7.2 step 17) even when the page was made to ask without it (the options are altered
    in flight, naming the credential so the browser does not insist on verification)."""
    add_authenticator(page, discoverable=True, verifies=False)
    register_key(page, base, email)
    (credential_id,) = sql(
        deployment,
        "SELECT credential_id FROM mfa_webauthn_credentials c "
        "JOIN users u ON u.id = c.user_id WHERE u.email = %(e)s",
        e=email,
    )[0]
    named = base64.urlsafe_b64encode(bytes(credential_id)).rstrip(b"=").decode()

    def without_verification(route) -> None:  # noqa: ANN001
        options = route.fetch().json()
        options["userVerification"] = "discouraged"
        options["allowCredentials"] = [{"type": "public-key", "id": named}]
        route.fulfill(json=options)

    page.route("**/sign-in/passkey/options", without_verification)
    page.goto(base + "/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_selector("text=That passkey did not work")
    refusals = sql(
        deployment,
        "SELECT details->>'reason' FROM audit_events WHERE event_type = 'sign_in' "
        "AND outcome = 'failure' ORDER BY occurred_at DESC LIMIT 1",
    )
    assert "verif" in refusals[0][0].lower()


def test_an_authenticator_app_and_a_recovery_code_in_a_browser(
    page,
    base: str,
    email: str,
    app: App,  # noqa: ANN001
) -> None:
    page.goto(base + "/sign-in?return_to=security")
    sign_in_with_password(page, email)
    page.get_by_role("button", name="Set up an authenticator app").click()
    # count() and all_inner_texts() do not wait: a click returns once the next page has
    # begun to load, so each read waits for what it counts first.
    page.wait_for_selector(".qr svg")
    assert page.locator(".qr svg").count() == 1
    app_totp = pyotp.TOTP(page.locator("[data-totp-secret]").inner_text())
    page.get_by_label("Code the app shows now").fill(app_totp.now())
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("[data-recovery-codes] code >> nth=9")
    codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(codes) == 10
    page.context.clear_cookies()

    page.goto(app.authorization_url())
    sign_in_with_password(page, email)
    page.get_by_label("Code from your authenticator app").fill(
        # The next step: the enrolment spent this one, and one step ahead is in the window.
        app_totp.at(time.time() + 30)
    )
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("button:has-text('Allow')")
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)
    claims = app.issuer.verify(app.exchange(callback)["id_token"], audience=app.client_id)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == ACR_MULTI_FACTOR
    page.context.clear_cookies()

    page.goto(base + "/sign-in")
    sign_in_with_password(page, email)
    page.get_by_text("Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Use recovery code").click()
    page.wait_for_selector("text=You are signed in")
