"""Mail end to end: gunicorn on PostgreSQL, `authserver outbox deliver` as its own process,
a real SMTP server on loopback, and a person in Chromium following the links it receives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
import requests

from tests import smtp
from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, App, Issuer, browse_to_client
from tests.e2e.processes import PROJECT_ROOT
from tests.smtp import Mailbox, link_in

smtp_server = smtp.smtp_server
mailbox = smtp.mailbox
PASSWORD = "correct horse battery"


@pytest.fixture
def mailing(
    deploy: Callable[..., Deployment], smtp_server: tuple, mailbox: Mailbox
) -> Iterator[Deployment]:
    """A production-like deployment with sign-up on, and its mail worker process."""
    controller, _ = smtp_server
    deployment = deploy("postgresql", smtp_host="127.0.0.1", smtp_port=str(controller.port),
                        smtp_security="none", signup="on")  # fmt: skip
    deployment.start()
    log = (deployment.tmp / "mail-worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "authserver", "outbox", "deliver"],
        env=deployment.env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield deployment
    worker.terminate()
    assert worker.wait(timeout=30) == 0  # SIGTERM ends it cleanly, between messages
    log.close()


def mail_to(mailbox: Mailbox, address: str, count: int = 1) -> EmailMessage:
    """The count-th message to the address, once the worker has delivered it."""
    deadline = time.monotonic() + 30
    while len(mailbox.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail to {address}"
        time.sleep(0.05)
    return mailbox.to(address)[count - 1]


def test_sign_up_then_verify_by_mail_then_sign_in(
    mailing: Deployment, mailbox: Mailbox, page
) -> None:  # noqa: ANN001, E501
    base = mailing.instances[0].base
    page.goto(base + "/sign-in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    page.wait_for_selector("text=Check your mail")

    page.goto(base + link_in(mail_to(mailbox, "grace@example.com")))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=Email address confirmed")
    page.get_by_role("link", name="Sign in").click()
    assert page.get_by_label("Email").input_value() == "grace@example.com"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(base + "/account")
    assert page.get_by_text("grace@example.com (confirmed)").is_visible()


def test_forgot_password_resets_by_mail_and_ends_the_old_sessions(
    mailing: Deployment,
    mailbox: Mailbox,
    browser,  # noqa: ANN001
) -> None:
    base = mailing.instances[0].base
    mailing.cli("users", "create", "--email", "ada@example.com", "--name", "Ada",
                "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    laptop, phone = browser.new_context().new_page(), browser.new_context().new_page()
    laptop.goto(base + "/sign-in?return_to=account")
    laptop.get_by_label("Email").fill("ada@example.com")
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_role("button", name="Sign in").click()
    laptop.wait_for_selector("text=Where you are signed in")

    phone.goto(base + "/sign-in")
    phone.get_by_role("link", name="Forgot password?").click()
    phone.get_by_label("Email").fill("ada@example.com")
    phone.get_by_role("button", name="Send the link").click()
    phone.wait_for_selector("text=Check your mail")
    phone.goto(base + link_in(mail_to(mailbox, "ada@example.com")))
    phone.get_by_label("New password").fill("a brand new passphrase")
    phone.get_by_role("button", name="Set the password").click()
    phone.wait_for_selector("text=Password changed")

    laptop.goto(base + "/account")
    assert "/sign-in" in laptop.url  # the old session is dead
    assert (
        "was reset"
        in mail_to(mailbox, "ada@example.com", 2)["Subject"]
        + mail_to(mailbox, "ada@example.com", 2).get_body(("plain",)).get_content()
    )
    laptop.context.close()
    phone.context.close()


def sign_up_from_the_invitation(newcomer) -> None:  # noqa: ANN001
    newcomer.get_by_role("link", name="Create an account").click()
    newcomer.get_by_label("Your name").fill("Grace Hopper")
    newcomer.get_by_label("Password").fill(PASSWORD)
    newcomer.get_by_role("button", name="Create the account").click()


def continue_with_google(newcomer) -> None:  # noqa: ANN001
    newcomer.get_by_role("link", name="Sign in with Google").click()  # the fake Google's Grace


@pytest.mark.parametrize("join", [sign_up_from_the_invitation, continue_with_google])
def test_an_invited_new_person_joins_from_the_mail_and_becomes_a_member(
    mailing: Deployment,
    mailbox: Mailbox,
    browser,
    join: Callable,  # noqa: ANN001
) -> None:
    base = mailing.instances[0].base
    owner = browser.new_context().new_page()
    bearer = {"Authorization": f"Bearer {owner_token(mailing, owner)}"}
    org = requests.post(base + "/api/v1/orgs", json={"name": "Acme", "slug": "acme"},
                        headers=bearer, timeout=30).json()  # fmt: skip
    invitations = base + f"/api/v1/orgs/{org['id']}/invitations"
    invited = requests.post(invitations, json={"email": "grace@example.com"}, headers=bearer,
                            timeout=30)  # fmt: skip
    assert invited.status_code == 201, invited.text

    newcomer = browser.new_context().new_page()
    newcomer.goto(base + link_in(mail_to(mailbox, "grace@example.com")))
    join(newcomer)
    newcomer.get_by_role("button", name="Accept").click()

    newcomer.wait_for_selector("text=Organizations")
    assert newcomer.get_by_text("Acme").is_visible()
    members = requests.get(base + f"/api/v1/orgs/{org['id']}/members", headers=bearer, timeout=30)
    assert "grace@example.com" in members.text
    owner.context.close()
    newcomer.context.close()


def owner_token(deployment: Deployment, page) -> str:  # noqa: ANN001
    """An owner with a password, through a web app that asks for a token for our API
    (resource=auth) with the scopes to read and change organizations."""
    deployment.cli("users", "create", "--email", "owner@example.com", "--name", "Owner",
                   "--email-verified", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    client = json.loads(
        deployment.cli(
            "clients",
            "create",
            "--name",
            "Admin",
            "--redirect-uri",
            CALLBACK,
            "--scope",
            "openid",
            "--scope",
            "orgs",
            "--scope",
            "orgs:write",
            "--json",
        )  # fmt: skip
    )
    app = App(Issuer(deployment.instances[0].base), client["client_id"],
              client["client_secret"], scope="openid orgs orgs:write")  # fmt: skip
    page.goto(app.authorization_url(resource="auth"))
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return app.exchange(browse_to_client(page, page.get_by_role("button", name="Allow").click))[
        "access_token"
    ]


def test_the_development_server_writes_mail_to_its_log_without_smtp(
    deploy: Callable[..., Deployment],
    page,  # noqa: ANN001
) -> None:
    laptop = deploy("sqlite", demo="on")  # as `make demo` runs: no SMTP, no mail worker
    laptop.cli("users", "create", "--email", "ada@example.com", "--name", "Ada",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    server = laptop.start(gunicorn=False)
    page.goto(server.base + "/forgot-password")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_selector("text=Check your mail")

    deadline = time.monotonic() + 30
    while "/reset-password/" not in server.log.read_text():
        assert time.monotonic() < deadline, "the reset mail never reached the log"
        time.sleep(0.05)
    assert "mail (no SMTP configured) to ada@example.com" in server.log.read_text()
