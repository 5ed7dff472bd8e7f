"""Two roots demoting each other at the same moment: one wins, a root remains (PostgreSQL
row locks on the platform roles)."""

from __future__ import annotations

import functools

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import PlatformRole
from tests.admin.conftest import OPERATOR_METHODS, make_operator
from tests.concurrency import at_once
from tests.oauth_helpers import csrf_token_in, sign_in


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no row locks; the race is a PostgreSQL guarantee")


def test_two_roots_demoting_each_other_at_once_leave_one_root(
    app: Flask, postgres_only: None
) -> None:
    first = make_operator("root", email="first@example.com")
    second = make_operator("root", email="second@example.com")
    # Each root, in a browser of their own, is about to demote the other.
    plans = []
    for actor, target in ((first, second), (second, first)):
        http = app.test_client()
        sign_in(app, http, actor, methods=OPERATOR_METHODS)
        g.pop("csrf_token", None)  # Flask-WTF caches it on g, which the test's context shares
        token = csrf_token_in(http.get("/admin/keys").data)
        plans.append((http, f"/admin/people/{target.id}/platform-role", token))
    db.session.commit()

    def demote(http: FlaskClient, path: str, token: str) -> int:
        return http.post(path, data={"csrf_token": token, "role": "admin"}).status_code

    statuses = at_once([functools.partial(demote, *plan) for plan in plans])

    # The loser is refused as the last root's demoter (409), or, if the winner committed
    # before the loser's request began, as no longer root (403).
    assert statuses.count(303) == 1 and set(statuses) - {303} <= {403, 409}
    roots = select(func.count()).select_from(PlatformRole).where(PlatformRole.role == "root")
    assert db.session.scalar(roots) == 1
