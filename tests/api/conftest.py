"""Shared by the /api/v1 org and invitation tests: people with real access tokens."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from authserver.extensions import db
from authserver.models import User
from authserver.services.sync import sync_auth_manifest
from tests.factories import make_role, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    sign_in,
)


@pytest.fixture
def api(app: Flask) -> None:
    sync_auth_manifest()
    make_role("billing", "viewer")
    db.session.commit()


API_SCOPES = ["openid", "profile", "email", "offline_access", "orgs", "orgs:write"]


class Person:
    """A person signed in to an app (first-party unless `client` says otherwise) that asked
    for a token for our API as README "API audience and scopes" says: `resource=auth`,
    `orgs` to read, `orgs:write` to change."""

    def __init__(
        self,
        app: Flask,
        email: str,
        scope: str = "openid orgs orgs:write",
        client: RegisteredClient | None = None,
        methods: tuple[str, ...] = ("pwd",),
        **params: str,
    ) -> None:
        self.user = User.find_by_email(email) or make_user(email=email)
        db.session.commit()
        self.http = app.test_client()
        sign_in(app, self.http, self.user, methods=methods)
        self.authorize(scope, client, **params)

    def authorize(self, scope: str, client: RegisteredClient | None = None, **params: str) -> None:
        """Take a token from /authorize and /token, approving consent when asked."""
        self.client = client = client or register_client(is_first_party=True, scopes=API_SCOPES)
        verifier, challenge = pkce_pair()
        query = authorize_params(client, challenge, scope=scope, **{"resource": "auth", **params})
        answer = self.http.get("/authorize", query_string=query)
        self.consent_page = None
        if answer.status_code == 200:  # a third-party client: the person reads and approves
            self.consent_page = answer.data
            action = re.search(rb'<form method="post" action="([^"]+)"', answer.data).group(1)
            answer = self.http.post(
                action.decode(),
                data={"csrf_token": csrf_token_in(answer.data), "decision": "approve"},
            )
        self.tokens = redeem(self.http, client, redirect_params(answer)["code"], verifier).json
        self.token = self.tokens["access_token"]

    def call(self, method: str, path: str, json: object = None):  # noqa: ANN201
        return self.http.open(
            f"/api/v1/orgs{path}",
            method=method,
            json=json,
            headers={"Authorization": f"Bearer {self.token}"},
        )


@pytest.fixture
def owner(app: Flask, api: None) -> Person:
    return Person(app, "owner@example.com")


@pytest.fixture
def org(owner: Person) -> dict:
    response = owner.call("POST", "", {"name": "Acme", "slug": "acme"})
    assert response.status_code == 201, response.json
    return response.json


def join(owner: Person, org: dict, person: Person, roles: list[str]) -> str:
    """The person joins as people do: `owner` invites them, they accept. The member id."""
    person.user.email_verified = True
    db.session.commit()
    invited = owner.call(
        "POST", f"/{org['id']}/invitations", {"email": person.user.email, "roles": roles}
    )
    assert invited.status_code == 201, invited.json
    accepted = person.http.post(
        f"/api/v1/invitations/{invited.json['id']}/accept",
        headers={"Authorization": f"Bearer {person.token}"},
    )
    assert accepted.status_code == 200, accepted.json
    members = owner.call("GET", f"/{org['id']}/members").json
    return next(m["id"] for m in members if m["email"] == person.user.email)


def assert_problem(response, status: int) -> None:  # noqa: ANN001
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == status
