"""A real authserver for the kit's tests: gunicorn started from the repository with its own
Python (AUTHSERVER_PYTHON), the repository's e2e process helpers, people who sign in with a
password over HTTP, an organization whose roles come from the billing example's manifest.

The kit itself is imported from wherever it is installed (the wheel, in `make test`)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from authserver_rs import ClientCredentials, publish_manifest

from dpop_client import DPoPKey

REPO = Path(__file__).resolve().parents[3]
MANIFEST = REPO / "examples" / "billing" / "manifest.json"
# The app's redirect URI: never contacted, the flow stops at the redirect to it.
CALLBACK = "http://127.0.0.1:9/callback"
PASSWORD = "correct horse battery staple"

sys.path.insert(0, str(REPO))  # the repository's e2e helpers (tests/e2e/processes.py)
from tests.e2e.processes import Server, free_port, server_env  # noqa: E402


def server_python() -> str:
    """The interpreter that has authserver installed (not this venv's: it has only the kit)."""
    python = os.environ.get("AUTHSERVER_PYTHON") or str(REPO / ".venv" / "bin" / "python")
    if not Path(python).exists():
        pytest.fail(f"no authserver to test against: set AUTHSERVER_PYTHON ({python} is missing)")
    return python


@dataclass
class Authserver:
    """One running deployment: gunicorn with two workers on SQLite, keys in a temp dir."""

    env: dict[str, str]
    python: str
    server: Server | None = None

    @property
    def issuer(self) -> str:
        return self.env["AUTHSERVER_ISSUER"]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [self.python, "-m", "authserver", *args],
            env=self.env,
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def client(self, *args: str) -> dict[str, Any]:
        return json.loads(self.cli("clients", "create", "--json", *args))

    def start(self, log: Path) -> None:
        command = [self.python, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py")]
        command += ["--workers", "2", "--bind", self.issuer.removeprefix("http://"), "wsgi:app"]
        self.server = Server(command, self.env, int(self.issuer.rsplit(":", 1)[1]), log)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="session")
def authserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authserver]:
    tmp = tmp_path_factory.mktemp("authserver")
    issuer = f"http://127.0.0.1:{free_port()}"
    env = server_env(tmp, f"sqlite:///{tmp / 'authserver.db'}", issuer, password_login="on")
    deployment = Authserver(env, server_python())
    deployment.cli("init")
    deployment.start(tmp / "gunicorn.log")
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def billing_credentials(authserver: Authserver) -> ClientCredentials:
    """The billing service's own client, which publishes its manifest and introspects."""
    made = authserver.client("--name", "Billing", "--service", "billing")
    return ClientCredentials(made["client_id"], made["client_secret"])


@pytest.fixture(scope="session")
def billing_manifest(authserver: Authserver, billing_credentials: ClientCredentials) -> Path:
    publish_manifest(
        MANIFEST, issuer=authserver.issuer, credentials=billing_credentials, echo=lambda _: None
    )
    return MANIFEST


@pytest.fixture(scope="session")
def web_app(authserver: Authserver) -> ClientCredentials:
    """A first-party web app people sign in to; it asks for tokens for billing."""
    scopes = ("openid", "orgs", "orgs:write", "offline_access")
    made = authserver.client(
        "--name", "Billing web", "--redirect-uri", CALLBACK, "--first-party",
        *(arg for scope in scopes for arg in ("--scope", scope)),
    )  # fmt: skip
    return ClientCredentials(made["client_id"], made["client_secret"])


class CountingHttp(httpx.Client):
    """An ordinary client that also counts what it asked for, by path."""

    def __init__(self) -> None:
        super().__init__(timeout=10, event_hooks={"request": [self._count]})
        self.paths: list[str] = []

    def _count(self, request: httpx.Request) -> None:
        self.paths.append(request.url.path)


def claims_of(raw: str) -> dict[str, Any]:
    """A JWT's payload, unverified: for a test to read what it was given."""
    payload = raw.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Forms(HTMLParser):
    """The forms of a page: action and input values, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((found.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in found:
            self.forms[-1][1][found["name"]] = found.get("value", "")


@dataclass
class Person:
    """Someone with a password account and a cookie jar, as their browser would keep it."""

    email: str
    authserver: Authserver
    app: ClientCredentials
    browser: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def tokens(
        self, scope: str = "openid orgs", *, dpop: DPoPKey | None = None, **params: str
    ) -> dict[str, Any]:
        """A code flow with PKCE: sign in if needed, then exchange the code; with `dpop`, a
        proof by that key at /token, so the access token is bound to it (RFC 9449 §5)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": CALLBACK,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            **params,
        }
        authorize = f"{self.authserver.issuer}/authorize?{urllib.parse.urlencode(query)}"
        callback = self._browse(authorize)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
        token_url = f"{self.authserver.issuer}/token"
        response = httpx.post(
            token_url,
            headers={"DPoP": dpop.proof("POST", token_url)} if dpop else {},
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            auth=self.app.basic_auth(),
        )
        assert response.status_code == 200, response.text
        return response.json()

    def access_token(self, scope: str = "openid orgs", **params: str) -> str:
        return self.tokens(scope, **params)["access_token"]

    def _browse(self, url: str) -> str:
        response = self.browser.get(url)
        for _ in range(10):
            if response.is_redirect:
                location = str(response.url.join(response.headers["location"]))
                if location.startswith(CALLBACK):
                    return location
                response = self.browser.get(location)
                continue
            assert response.status_code == 200, response.text[:500]
            response = self.sign_in_on(response)
        raise AssertionError("too many redirects")

    def sign_in_on(self, page: httpx.Response) -> httpx.Response:
        """Fill in and send the password form of authserver's sign-in page."""
        parser = Forms()
        parser.feed(page.text)
        action, fields = next((a, f) for a, f in parser.forms if "password" in f)
        fields.update(email=self.email, password=PASSWORD)
        return self.browser.post(str(page.url.join(action)), data=fields)


def new_person(authserver: Authserver, app: ClientCredentials, name: str) -> Person:
    """A person with a verified email and a password, signed in to nothing yet."""
    email = f"{name}@example.com"
    authserver.cli(
        "users", "create", "--email", email, "--name", name.title(), "--email-verified",
        "--password-stdin", stdin=PASSWORD,
    )  # fmt: skip
    return Person(email, authserver, app)


@dataclass
class Acme:
    """Organization `acme`: alice is its owner and a billing clerk, bob a billing viewer (he
    accepted her invitation).
    Organization `globex`: alice owns it but holds no billing role there."""

    alice: Person
    bob: Person
    alice_id: str
    acme_id: str
    globex_id: str


@pytest.fixture(scope="session")
def acme(authserver: Authserver, web_app: ClientCredentials, billing_manifest: Path) -> Acme:
    alice, bob = new_person(authserver, web_app, "alice"), new_person(authserver, web_app, "bob")
    for_api = alice.access_token("orgs orgs:write", resource="auth")
    api = httpx.Client(
        base_url=f"{authserver.issuer}/api/v1", headers={"Authorization": f"Bearer {for_api}"}
    )
    acme_id = api.post("/orgs", json={"name": "Acme", "slug": "acme"}).json()["id"]
    globex_id = api.post("/orgs", json={"name": "Globex", "slug": "globex"}).json()["id"]
    (owner,) = api.get(f"/orgs/{acme_id}/members").json()
    changed = api.put(
        f"/orgs/{acme_id}/members/{owner['id']}/roles",
        json={"roles": ["auth:owner", "billing:clerk"]},
    )
    assert changed.status_code == 200, changed.text
    invited = api.post(
        f"/orgs/{acme_id}/invitations", json={"email": bob.email, "roles": ["billing:viewer"]}
    )
    assert invited.status_code == 201, invited.text
    bob_for_api = bob.access_token("orgs orgs:write", resource="auth")
    accepted = httpx.post(
        f"{authserver.issuer}/api/v1/invitations/{invited.json()['id']}/accept",
        headers={"Authorization": f"Bearer {bob_for_api}"},
    )
    assert accepted.status_code == 200, accepted.text
    return Acme(alice, bob, owner["user_id"], acme_id, globex_id)


@dataclass
class Crowded:
    """dave: owner of 51 organizations (one past the claim's bound), a billing viewer in the
    newest, `org-50`, which a token's `orgs` claim therefore leaves out."""

    dave: Person
    newest: str


@pytest.fixture(scope="session")
def crowded(authserver: Authserver, web_app: ClientCredentials, billing_manifest: Path) -> Crowded:
    dave = new_person(authserver, web_app, "dave")
    for_api = dave.access_token("orgs orgs:write", resource="auth")
    api = httpx.Client(
        base_url=f"{authserver.issuer}/api/v1", headers={"Authorization": f"Bearer {for_api}"}
    )
    for n in range(51):
        created = api.post("/orgs", json={"name": f"Org {n}", "slug": f"org-{n}"})
        assert created.status_code == 201, created.text
    newest = created.json()["id"]
    (owner,) = api.get(f"/orgs/{newest}/members").json()
    changed = api.put(
        f"/orgs/{newest}/members/{owner['id']}/roles",
        json={"roles": ["auth:owner", "billing:viewer"]},
    )
    assert changed.status_code == 200, changed.text
    return Crowded(dave, "org-50")
