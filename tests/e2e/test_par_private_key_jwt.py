"""A FAPI-style client end to end: Authlib's OAuth2Session authenticating with private_key_jwt
(keys served from its own jwks_uri on loopback), pushing its request to /par, and a person
signing in and consenting in Chromium."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import RSAKey

from tests.e2e.conftest import Deployment
from tests.e2e.outside import CALLBACK, Issuer, browse_to_client, query_of
from tests.jwks_server import JWKSServer

PASSWORD = "correct horse battery"
KEY = RSAKey.generate_key(2048, parameters={"kid": "reports-1"}, private=True)


@pytest.fixture
def jwks_uri() -> Iterator[str]:
    server = JWKSServer({"keys": [KEY.as_dict(private=False)]})
    yield server.uri
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, deploy: Callable[..., Deployment]) -> Deployment:
    deployment = deploy(request.param)
    deployment.start(gunicorn=False)
    deployment.cli(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return deployment


def test_a_pushed_request_with_private_key_jwt_signs_in_and_redeems(
    server: Deployment,
    jwks_uri: str,
    page,  # noqa: ANN001
) -> None:
    created = server.cli(
        "clients", "create", "--name", "Reports", "--redirect-uri", CALLBACK,
        "--auth-method", "private_key_jwt", "--jwks-uri", jwks_uri, "--require-par", "--json",
    )  # fmt: skip
    client_id = json.loads(created)["client_id"]
    issuer = Issuer(server.instances[0].base)
    assert "private_key_jwt" in issuer["token_endpoint_auth_methods_supported"]
    session = OAuth2Session(
        client_id, KEY, token_endpoint_auth_method="private_key_jwt", redirect_uri=CALLBACK
    )
    session.register_client_auth_method(PrivateKeyJWT(issuer["token_endpoint"]))

    verifier = secrets.token_urlsafe(48)
    pushed = session.post(
        issuer["pushed_authorization_request_endpoint"],
        data={
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": "openid email",
            "state": "s-1",
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        auth=session.client_auth("private_key_jwt"),
        withhold_token=True,
    )
    assert pushed.status_code == 201, pushed.text

    request_uri = pushed.json()["request_uri"]
    page.goto(f"{issuer['authorization_endpoint']}?client_id={client_id}&request_uri={request_uri}")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Reports")
    callback = browse_to_client(page, page.get_by_role("button", name="Allow").click)
    assert query_of(callback)["state"] == "s-1"

    tokens = session.fetch_token(
        issuer["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert issuer.verify(tokens["id_token"], audience=client_id)["email"] == "ada@example.com"
