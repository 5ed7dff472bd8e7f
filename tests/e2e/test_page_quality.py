"""Every hosted page in Chromium, in English and German: axe-core finds no WCAG 2.2 AA
violation in the light or the dark theme, and each page is photographed light and dark, at
desktop and mobile widths, into build/screenshots/ (not committed) for review. Sign-in and
consent also work from the keyboard alone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pyotp
import pytest
import requests

from authserver.config import PROJECT_ROOT
from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, browse_to_client

AXE = PROJECT_ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
AA_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 320, "height": 720}}
PASSWORD = "correct horse battery"
# Words no German sentence of ours contains: an English one left on a German page is a
# string that was never marked for translation.
ADMIN_PAGES = [
    ("admin-dashboard", "/admin"),
    ("admin-people", "/admin/people"),
    ("admin-clients", "/admin/clients"),
    ("admin-client-new", "/admin/clients/new"),
    ("admin-services", "/admin/services"),
    ("admin-service", "/admin/services/auth"),
    ("admin-orgs", "/admin/orgs"),
    ("admin-keys", "/admin/keys"),
    ("admin-audit", "/admin/audit"),
]
SCROLLS_SIDEWAYS = "() => document.documentElement.scrollWidth > window.innerWidth"
ENGLISH_WORDS = re.compile(r"\b(the|your|you|is|are|and|with|this|to|of|sign in)\b", re.I)


@pytest.fixture
def site(deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy(
        "sqlite",
        demo="on",
        signup="on",
        brand_name="Acme ID",
        brand_accent="#6b21a8",
        brand_support_uri="mailto:help@acme.example",
        brand_privacy_uri="https://acme.example/privacy",
        brand_terms_uri="https://acme.example/terms",
    )
    deployment.start(gunicorn=False)
    deployment.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada Lovelace",
        "--platform-role", "root", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    return deployment


def invitation_link(site: Deployment) -> str:
    """An invitation to Looms for Ada from Grace, written as the orgs service would."""
    from authserver import create_app
    from authserver.config import Settings
    from authserver.extensions import db
    from authserver.hashing import new_secret, sha256_hex
    from authserver.models import User
    from tests.factories import make_invitation, make_org, make_role, make_user

    app = create_app(Settings.from_env(site.env))
    token = new_secret()
    with app.app_context():
        grace = make_user(email="grace@example.com", display_name="Grace Hopper")
        role = make_role("billing", "viewer", description="See invoices and payments")
        invitation = make_invitation(
            make_org(name="Looms"),
            email="ada@example.com",
            inviter_id=grace.id,
            token_hash=sha256_hex(token),
        )
        invitation.roles = [role]
        db.session.scalar(
            db.select(User).where(User.email == "ada@example.com")
        ).email_verified = True
        db.session.commit()
        db.engine.dispose()
    return f"/invitations/{token}"


def org_ada_owns(site: Deployment) -> str:
    """Analytical Engines, which Ada owns, so she manages its API keys: the org's id."""
    from authserver import create_app
    from authserver.config import Settings
    from authserver.extensions import db
    from authserver.models import Role, User
    from tests.factories import make_member, make_org, make_team

    app = create_app(Settings.from_env(site.env))
    with app.app_context():
        ada = db.session.scalar(db.select(User).where(User.email == "ada@example.com"))
        org = make_org(name="Analytical Engines")
        make_member(org, ada, [Role.find("auth", "owner")])
        make_team(org, slug="looms", name="Looms")
        db.session.commit()
        org_id = str(org.id)
        db.engine.dispose()
    return org_id


def notes_app(site: Deployment) -> App:
    out = site.cli(
        "clients", "create", "--name", "Notes", "--public", "--redirect-uri", CALLBACK,
        "--client-uri", "https://notes.example/", "--policy-uri", "https://notes.example/privacy",
        "--tos-uri", "https://notes.example/terms", "--json",
    )  # fmt: skip
    return App(Issuer(site.instances[0].base), json.loads(out)["client_id"])


def ledger(site: Deployment) -> str:
    """A client with every protocol option the console shows: its client id."""
    created = site.cli(
        "clients", "create", "--name", "Ledger", "--redirect-uri", "https://ledger.example/cb",
        "--auth-method", "private_key_jwt", "--jwks-uri", "https://ledger.example/jwks.json",
        "--dpop-bound", "--require-par", "--backchannel-logout-uri", "https://ledger.example/bcl",
        "--backchannel-logout-session-required", "--json",
    )  # fmt: skip
    return json.loads(created)["client_id"]


def device_codes(site: Deployment) -> dict:
    created = site.cli(
        "clients", "create", "--name", "Deploy CLI", "--public",
        "--grant-type", "device_code", "--json",
    )  # fmt: skip
    issuer = Issuer(site.instances[0].base)
    return requests.post(
        issuer["device_authorization_endpoint"],
        data={"client_id": json.loads(created)["client_id"], "scope": "openid profile"},
        timeout=10,
    ).json()


class Reviewer:
    """Checks the page the browser is on, and photographs it."""

    def __init__(self, page, locale: str) -> None:  # noqa: ANN001
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: make test installs it (npm ci --prefix tests)")
        self.page = page
        self.locale = locale
        self.checked: list[str] = []
        self.violations: dict[str, list[str]] = {}
        self.english: dict[str, list[str]] = {}

    def review(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)
            for width, size in WIDTHS.items():
                self.page.set_viewport_size(size)
                path = SCREENSHOTS / self.locale / f"{name}-{scheme}-{width}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                self.page.screenshot(path=str(path), full_page=True)
                # WCAG 2.2 SC 1.4.10 (reflow): nothing scrolls sideways, even at 320 px.
                if self.page.evaluate(SCROLLS_SIDEWAYS):
                    self.violations.setdefault(f"{name} ({width})", []).append("scrolls sideways")
            found = self._axe()
            if found:
                self.violations[f"{name} ({scheme})"] = found
        self.page.emulate_media(color_scheme="light")
        self.page.set_viewport_size(WIDTHS["desktop"])
        if self.locale == "de":
            leaks = ENGLISH_WORDS.findall(self._visible_text())
            if leaks:
                self.english[name] = leaks
        self.checked.append(name)

    def _axe(self) -> list[str]:
        # Evaluated through the DevTools protocol, which our CSP (no inline script) does not
        # govern: the pages themselves are checked exactly as people get them.
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            AA_RULES,
        )
        assert result["passes"], "axe ran no check"
        return [
            f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
        ]

    def _visible_text(self) -> str:
        text = self.page.inner_text("main")
        for own in (
            "Ada Lovelace",
            "ada@example.com",
            "Notes",
            "Acme ID",
            "Looms",
            "Grace Hopper",
            "See invoices and payments",
            "Analytical Engines",
            "Nightly export",
        ):
            text = text.replace(own, "")
        return re.sub(r"\S+@\S+|https?://\S+", "", text)


@pytest.mark.parametrize("locale", ["en", "de"])
def test_every_hosted_page_passes_axe_in_both_themes(
    site: Deployment, browser, locale: str
) -> None:  # noqa: ANN001
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    reviewer = Reviewer(page, locale)
    base = site.instances[0].base
    app = notes_app(site)

    for name, path in [
        ("signed-in", "/signed-in"),
        ("sign-in", "/sign-in"),
        ("sign-up", "/sign-up"),
        ("forgot-password", "/forgot-password"),
        ("link-invalid", "/reset-password/not-a-token"),
        ("not-found", "/no-such-page"),
        ("demo", "/demo"),
    ]:
        page.goto(base + path)
        reviewer.review(name)

    page.goto(app.authorization_url())
    reviewer.review("sign-in-for-app")
    page.fill("#email", "ada@example.com")
    page.fill("#password", "wrong password")
    page.locator("form button.primary").click()
    reviewer.review("sign-in-failed")
    page.fill("#password", PASSWORD)
    page.locator("form button.primary").click()
    page.wait_for_selector("form.actions")
    reviewer.review("consent")
    browse_to_client(page, page.locator("button[value=approve]").click)

    for name, path in [
        ("invitation", invitation_link(site)),
        ("account", "/account"),
        ("change-password", "/account/password"),
        ("change-email", "/account/email"),
        ("security", "/account/security"),
    ]:
        page.goto(base + path)
        reviewer.review(name)

    page.locator("form[action$='/totp'] button, form[action*='totp'] button").first.click()
    reviewer.review("totp-setup")
    secret = page.inner_text("[data-totp-secret]").replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.locator("form button.primary").click()
    page.wait_for_selector("[data-recovery-codes]")
    reviewer.review("recovery-codes")
    recovery_code = page.inner_text("[data-recovery-codes] li >> nth=0")

    # A personal API key, shown once.
    page.goto(base + "/account")
    page.fill("#api-key-name", "Nightly export")
    page.locator("form[action$='/api-keys'] button").click()
    page.wait_for_selector("#api-key")
    reviewer.review("api-key-created")

    # An organization's API keys, for its admins: the list and form, and a key shown once.
    org_keys = base + f"/account/orgs/{org_ada_owns(site)}/api-keys"
    page.goto(org_keys)
    reviewer.review("org-api-keys")
    page.fill("#org-key-name", "Nightly export")
    page.fill("#org-key-days", "90")
    page.locator("input[name=roles][value='billing:viewer']").check()
    page.get_by_label("Looms").check()
    page.locator("form[action$='/api-keys'] button.primary").click()
    page.wait_for_selector("#api-key")
    reviewer.review("org-api-key-created")
    page.goto(org_keys)
    reviewer.review("org-api-keys-listed")

    # The device flow's pages (RFC 8628 §3.3), for a CLI that asked for codes.
    codes = device_codes(site)
    page.goto(base + "/device")
    reviewer.review("device-enter")
    page.fill("#user_code", codes["user_code"])
    page.locator("form button.primary").click()
    page.wait_for_selector("ul.scopes")
    reviewer.review("device-confirm")
    page.locator("button[value=approve]").click()
    page.wait_for_selector("p[role=status]")
    reviewer.review("device-done")

    page.goto(base + "/logout")
    reviewer.review("sign-out")
    page.locator("button[value=yes]").click()
    reviewer.review("signed-out")

    page.goto(app.authorization_url())
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    page.locator("form button.primary").click()
    page.wait_for_selector("#code")
    reviewer.review("second-step")
    assert page.locator("section.app strong").inner_text() == "Notes"

    if locale == "en":  # the admin console (operators) is in English only, and accessible
        page.locator("details summary").click()
        page.fill("#recovery_code", recovery_code)
        page.locator("details form button").click()
        page.wait_for_url(re.compile(re.escape(app.issuer.issuer) + "|/callback"))
        for name, path in [*ADMIN_PAGES, ("admin-client", f"/admin/clients/{ledger(site)}")]:
            page.goto(base + path)
            reviewer.review(name)

    context.close()
    assert reviewer.violations == {}
    assert reviewer.english == {}
    assert len(reviewer.checked) == 27 + (len(ADMIN_PAGES) + 1 if locale == "en" else 0)


def tab_to(page, target: str) -> None:  # noqa: ANN001
    """Press Tab until `target` (an id, or a button's words) has the focus: at most 30 times."""
    script = "() => document.activeElement.id || document.activeElement.textContent.trim()"
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate(script) == target:
            return
    raise AssertionError(f"Tab never reached {target!r}")


def test_sign_in_and_consent_work_from_the_keyboard_alone(site: Deployment, page) -> None:  # noqa: ANN001
    app = notes_app(site)
    page.goto(app.authorization_url())
    tab_to(page, "email")
    page.keyboard.type("ada@example.com")
    tab_to(page, "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("form.actions")
    tab_to(page, "Allow")
    callback = browse_to_client(page, lambda: page.keyboard.press("Enter"))
    assert app.exchange(callback)["id_token"]
