"""An organization's API key in production: gunicorn on PostgreSQL exchanges it (RFC 8693)
for a JWT that the billing service verifies with our JWKS fetched over HTTP, and whose
roles include a team's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import requests

from authserver import create_app
from authserver.credentials import api_keys
from authserver.extensions import db
from authserver.models import User
from authserver.orgs import service as orgs
from authserver.orgs import teams
from tests.conftest import make_settings
from tests.e2e.conftest import Deployment
from tests.e2e.outside import Issuer

MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "billing" / "manifest.json"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def org_key_with_a_team(deployment: Deployment) -> tuple[str, str]:
    """Acme's key in the team `payments` (billing:clerk) holding billing:viewer itself;
    (org id, raw key)."""
    app = create_app(make_settings(deployment.tmp, deployment.env["AUTHSERVER_DATABASE_URL"]))
    with app.app_context(), app.test_request_context():
        owner = User(email="owner@example.com", display_name="Owner", email_verified=True)
        db.session.add(owner)
        db.session.flush()
        organization = orgs.create_organization(owner, "Acme", "acme")
        by = orgs.caller(owner, str(organization.id))
        team = teams.create_team(by, "Payments", "payments", None, ["billing:clerk"])
        _, raw = api_keys.create_for_org(
            by, "CI", ["billing:viewer"], [str(team.id)], None, auth_methods=("pwd",)
        )
        db.session.commit()
        found = str(organization.id), raw
        db.engine.dispose()
    return found


def test_an_org_key_becomes_a_jwt_the_billing_service_verifies_over_http(
    deploy: Callable[..., Deployment],
) -> None:
    deployment = deploy("postgresql")
    deployment.cli("services", "sync", str(MANIFEST))
    org_id, raw = org_key_with_a_team(deployment)
    client = json.loads(
        deployment.cli(
            "clients",
            "create",
            "--name",
            "deploy script",
            "--public",
            "--grant-type",
            "token_exchange",
            "--json",
        )  # fmt: skip
    )
    server = deployment.start()
    issuer = Issuer(server.base)

    response = requests.post(
        issuer["token_endpoint"],
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": raw,
            "subject_token_type": "urn:authserver:params:oauth:token-type:api-key",
            "resource": "billing",
            "client_id": client["client_id"],
        },
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert TOKEN_EXCHANGE in issuer["grant_types_supported"]
    claims = issuer.verify(response.json()["access_token"], audience="billing", typ="at+jwt")
    assert (claims["sub"], claims["sub_kind"], claims["org_id"]) == (org_id, "organization", org_id)
    assert claims["roles"] == ["billing:clerk", "billing:viewer"]  # the team's and its own
    assert "billing:invoice:write" in claims["permissions"] and claims["teams"] == ["payments"]
    assert claims["act"]["sub_kind"] == "api_key" and raw.startswith(claims["api_key"]["prefix"])
