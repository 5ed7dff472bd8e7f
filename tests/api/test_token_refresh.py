"""POST /token with grant_type=refresh_token: rotation, the grace window, reuse detection."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import GrantFamily, RefreshToken, User
from tests.concurrency import at_once
from tests.factories import make_user
from tests.oauth_helpers import (
    RegisteredClient,
    issue_code,
    pkce_pair,
    post_token,
    redeem,
    refresh,
    register_client,
    verify_as_resource_server,
)


@pytest.fixture
def client(app: Flask) -> RegisteredClient:
    return register_client()


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user()
    db.session.commit()
    return user


@pytest.fixture
def first_tokens(http: FlaskClient, client: RegisteredClient, person: User) -> dict:
    verifier, challenge = pkce_pair()
    response = redeem(http, client, issue_code(client, person, challenge), verifier)
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def grace_period(app: Flask) -> Iterator[Callable[[int], None]]:
    original = app.extensions["authserver.settings"]

    def set_to(seconds: int) -> None:
        app.extensions["authserver.settings"] = dataclasses.replace(
            original, refresh_grace_period=seconds
        )

    yield set_to
    app.extensions["authserver.settings"] = original


def family_tokens() -> int:
    return db.session.scalar(select(func.count()).select_from(RefreshToken))


def the_family() -> GrantFamily:
    family = db.session.scalar(select(GrantFamily))
    db.session.refresh(family)
    return family


def test_refresh_rotates_the_token_and_issues_a_verifiable_access_token(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    response = refresh(http, client, first_tokens["refresh_token"])
    assert response.status_code == 200, response.json
    body = response.json
    assert body["refresh_token"] != first_tokens["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    claims = verify_as_resource_server(http, body["access_token"], client.client_id).claims
    first = verify_as_resource_server(http, first_tokens["access_token"], client.client_id).claims
    assert claims["family_id"] == first["family_id"] and claims["jti"] != first["jti"]


def test_a_retry_inside_the_window_gets_the_same_successor_and_never_forks(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, move_clock
) -> None:  # noqa: ANN001
    first = refresh(http, client, first_tokens["refresh_token"]).json
    move_clock(seconds=20)
    retry = refresh(http, client, first_tokens["refresh_token"])
    assert retry.status_code == 200
    assert retry.json["refresh_token"] == first["refresh_token"]
    assert retry.json["access_token"] != first["access_token"]
    assert family_tokens() == 2
    assert refresh(http, client, first["refresh_token"]).status_code == 200  # still good


def test_a_retry_after_the_successor_rotated_gets_the_newest_link(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    second = refresh(http, client, first_tokens["refresh_token"]).json["refresh_token"]
    third = refresh(http, client, second).json["refresh_token"]
    retry = refresh(http, client, first_tokens["refresh_token"])
    assert retry.json["refresh_token"] == third
    assert family_tokens() == 3


def test_reuse_after_the_window_revokes_the_whole_family(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, move_clock
) -> None:  # noqa: ANN001
    successor = refresh(http, client, first_tokens["refresh_token"]).json["refresh_token"]
    move_clock(seconds=31)
    reuse = refresh(http, client, first_tokens["refresh_token"])
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    assert the_family().revoked_reason == "refresh_reuse"
    assert refresh(http, client, successor).json["error"] == "invalid_grant"


def test_with_the_window_off_a_repeat_is_reuse(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, grace_period
) -> None:  # noqa: ANN001
    grace_period(0)
    successor = refresh(http, client, first_tokens["refresh_token"]).json["refresh_token"]
    assert refresh(http, client, first_tokens["refresh_token"]).json["error"] == "invalid_grant"
    assert refresh(http, client, successor).json["error"] == "invalid_grant"
    assert the_family().revoked_reason == "refresh_reuse"


def test_a_retry_whose_sealed_successor_was_altered_revokes_the_family(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    successor = refresh(http, client, first_tokens["refresh_token"]).json["refresh_token"]
    rotated = db.session.scalar(select(RefreshToken).where(RefreshToken.rotated_at.is_not(None)))
    sealed = rotated.successor_ciphertext
    rotated.successor_ciphertext = sealed[:-1] + bytes([sealed[-1] ^ 1])  # the row was changed
    db.session.commit()
    retry = refresh(http, client, first_tokens["refresh_token"])
    assert retry.status_code == 400 and retry.json["error"] == "invalid_grant"
    assert the_family().revoked_reason == "refresh_successor_tampered"
    assert refresh(http, client, successor).json["error"] == "invalid_grant"


def test_a_token_presented_by_another_client_is_reuse(
    http: FlaskClient, first_tokens: dict, client: RegisteredClient
) -> None:
    other = register_client()
    response = refresh(http, other, first_tokens["refresh_token"])
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"
    assert the_family().revoked_reason == "refresh_reuse_other_client"
    assert refresh(http, client, first_tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_an_idle_token_expires(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, move_clock
) -> None:  # noqa: ANN001
    move_clock(days=14, seconds=1)
    assert refresh(http, client, first_tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_rotation_never_extends_the_absolute_lifetime(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, move_clock
) -> None:  # noqa: ANN001
    token = first_tokens["refresh_token"]
    for _ in range(3):
        move_clock(days=9)
        response = refresh(http, client, token)
        assert response.status_code == 200, response.json
        token = response.json["refresh_token"]
    family = the_family()
    newest = db.session.scalar(select(RefreshToken).where(RefreshToken.rotated_at.is_(None)))
    assert newest.expires_at == family.expires_at  # capped by the family's end (day 30)
    move_clock(days=4)
    assert refresh(http, client, token).json["error"] == "invalid_grant"


def test_scope_can_narrow_but_never_widen(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": first_tokens["refresh_token"]}
    wider = post_token(http, client, {**data, "scope": "openid orgs"})
    assert wider.status_code == 400 and wider.json["error"] == "invalid_scope"
    narrower = post_token(http, client, {**data, "scope": "openid"})
    assert narrower.status_code == 200 and narrower.json["scope"] == "openid"


def test_refresh_tokens_are_stored_only_as_hashes(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict
) -> None:
    successor = refresh(http, client, first_tokens["refresh_token"]).json["refresh_token"]
    for row in db.session.scalars(select(RefreshToken)):
        stored = f"{row.token_hash}{row.successor_ciphertext!r}"
        assert first_tokens["refresh_token"] not in stored and successor not in stored
        if row.successor_ciphertext:
            assert successor.encode() not in row.successor_ciphertext


def test_a_disabled_person_cannot_refresh(
    http: FlaskClient, client: RegisteredClient, first_tokens: dict, person: User
) -> None:
    person.is_active = False
    db.session.commit()
    assert refresh(http, client, first_tokens["refresh_token"]).json["error"] == "invalid_grant"


def test_an_unknown_or_missing_refresh_token_is_refused(
    http: FlaskClient, client: RegisteredClient
) -> None:
    assert refresh(http, client, "no-such-token").json["error"] == "invalid_grant"
    missing = post_token(http, client, {"grant_type": "refresh_token"})
    assert missing.status_code == 400 and missing.json["error"] == "invalid_request"


# ---- concurrency (PostgreSQL: row locks) ----------------------------------------------------


def refresh_at_once(app: Flask, client: RegisteredClient, token: str, callers: int) -> list:
    """Several callers present one refresh token at the same moment, each its own request."""
    auth = (client.client_id, client.secret)  # plain strings: no ORM object crosses threads

    def call() -> tuple[int, Any]:
        response = app.test_client().post(
            "/token", data={"grant_type": "refresh_token", "refresh_token": token}, auth=auth
        )
        return response.status_code, response.json

    return at_once([call] * callers)


def test_concurrent_refreshes_inside_the_window_all_get_the_one_successor(
    app: Flask, client: RegisteredClient, first_tokens: dict
) -> None:
    db.session.commit()
    results = refresh_at_once(app, client, first_tokens["refresh_token"], callers=6)
    assert all(status == 200 for status, _ in results), results
    assert len({body["refresh_token"] for _, body in results}) == 1
    db.session.expire_all()
    assert family_tokens() == 2


def test_concurrent_refreshes_without_the_window_let_exactly_one_succeed(
    app: Flask, client: RegisteredClient, first_tokens: dict, grace_period
) -> None:  # noqa: ANN001
    grace_period(0)
    db.session.commit()
    results = refresh_at_once(app, client, first_tokens["refresh_token"], callers=6)
    assert sorted(status for status, _ in results) == [200] + [400] * 5, results
    db.session.expire_all()
    assert family_tokens() == 2
