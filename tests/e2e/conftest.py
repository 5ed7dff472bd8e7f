"""Fixtures for end-to-end tests: Debian's Chromium through Playwright, a fake Google on
its own loopback port, and deployments of real server processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.outside import APP_PAGES
from tests.e2e.processes import CHROMIUM, CHROMIUM_ARGS, Server, free_port, run_cli, server_env
from tests.fake_upstream import CLIENT_ID, CLIENT_SECRET, FakeProvider

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs Debian's chromium package")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session", autouse=True)
def app_pages() -> Iterator[None]:
    """The client app's pages, where the browser lands after a redirect to the app."""
    thread = threading.Thread(target=APP_PAGES.serve_forever, daemon=True)
    thread.start()
    yield
    APP_PAGES.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A page in a fresh browser context: no cookies from another test."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def fake_google() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    provider.reset()
    yield provider
    provider.stop()


@dataclass
class Deployment:
    """One authserver deployment: a database, a keys directory, and its running instances."""

    env: dict[str, str]
    tmp: Path
    port: int
    instances: list[Server] = field(default_factory=list)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return run_cli(self.env, *args, stdin=stdin)

    def start(self, port: int | None = None, *, gunicorn: bool = True) -> Server:
        """Start an instance; the first one listens on the issuer's port."""
        port = port or self.port
        log = self.tmp / f"server-{port}.log"
        if gunicorn:
            server = Server.gunicorn(self.env, port, log)
        else:
            server = Server.development(self.env, port, log)
        self.instances.append(server)
        return server

    def stop(self) -> None:
        for server in self.instances:
            server.stop()


@pytest.fixture
def deploy(
    tmp_path: Path, new_database_url: Callable[[str], str], fake_google: FakeProvider
) -> Iterator[Callable[..., Deployment]]:
    """Make a deployment on a new database (`authserver init` done), with the fake Google
    configured; its issuer is the first port, where the first instance will listen."""
    made: list[Deployment] = []

    def make(backend: str = "postgresql", **extra: str) -> Deployment:
        port = free_port()
        env = server_env(
            tmp_path,
            new_database_url(backend),
            f"http://127.0.0.1:{port}",
            google_client_id=CLIENT_ID,
            google_client_secret=CLIENT_SECRET,
            google_issuer=fake_google.issuer,
            **extra,
        )
        deployment = Deployment(env, tmp_path, port)
        made.append(deployment)
        deployment.cli("init")
        return deployment

    yield make
    for deployment in made:
        deployment.stop()
