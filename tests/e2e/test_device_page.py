"""The device grant end to end (RFC 8628): a CLI speaking HTTP to a running server, step by
step as the RFC describes, and a person typing the code in Chromium."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.conftest import Deployment
from tests.e2e.outside import Issuer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy(request.param)
    deployment.start(gunicorn=False)
    deployment.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return deployment


def test_a_cli_gets_tokens_once_the_person_types_its_code_in_a_browser(
    server: Deployment,
    page,  # noqa: ANN001
) -> None:
    created = server.cli(
        "clients", "create", "--name", "Deploy CLI", "--public",
        "--grant-type", "device_code", "--grant-type", "refresh_token", "--json",
    )  # fmt: skip
    client_id = json.loads(created)["client_id"]
    issuer = Issuer(server.instances[0].base)

    # RFC 8628 §3.1-3.2: the CLI asks for codes and shows the person where to go.
    codes = requests.post(
        issuer["device_authorization_endpoint"],
        data={"client_id": client_id, "scope": "openid profile offline_access"},
        timeout=10,
    ).json()
    assert codes["verification_uri"] == issuer.issuer + "/device"

    # RFC 8628 §3.3: the person opens the link, signs in, checks and approves.
    page.goto(codes["verification_uri_complete"])
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_label("Code shown on your device").input_value() == codes["user_code"]
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=Deploy CLI")
    assert page.get_by_text("See your name and profile picture").is_visible()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_selector("text=Device connected")

    # RFC 8628 §3.4-3.5: the CLI polls and gets tokens of a family that refreshes.
    tokens = requests.post(
        issuer["token_endpoint"],
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": codes["device_code"],
            "client_id": client_id,
        },
        timeout=10,
    ).json()
    claims = issuer.verify(tokens["id_token"], audience=client_id)
    assert claims["amr"] == ["pwd"]
    cli = OAuth2Session(client_id, token_endpoint_auth_method="none")
    refreshed = cli.refresh_token(issuer["token_endpoint"], refresh_token=tokens["refresh_token"])
    assert refreshed["refresh_token"] != tokens["refresh_token"]


def test_a_wrong_code_in_the_browser_says_so_and_issues_nothing(
    server: Deployment,
    page,  # noqa: ANN001
) -> None:
    page.goto(Issuer(server.instances[0].base).issuer + "/device")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code shown on your device").fill("BBBB-BBBB")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").inner_text().startswith("That code is not valid")
