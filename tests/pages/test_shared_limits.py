"""With AUTHSERVER_REDIS_URL set, every instance counts sign-in failures in the same place."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade

from authserver import create_app
from authserver.extensions import db, limiter
from tests.conftest import make_settings

REDIS = ("127.0.0.1", 6379)


def redis_available() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("CI: no Redis on 127.0.0.1:6379")
        return False
    return True


def instance(tmp: Path, database_url: str) -> Flask:
    app = create_app(make_settings(tmp, database_url, redis_url="redis://127.0.0.1:6379/0"))
    app.config["WTF_CSRF_ENABLED"] = False  # this test is about counters, not forms
    return app


@pytest.fixture
def limiter_restored() -> Iterator[None]:
    """create_app() binds the process's one Flask-Limiter to the app's storage: the apps
    made here bind it to Redis, and the tests after this one in the same worker must count
    in memory again (and never reset the shared Redis under another test)."""
    saved = dict(vars(limiter))
    yield
    vars(limiter).clear()
    vars(limiter).update(saved)


@pytest.mark.usefixtures("limiter_restored")
def test_two_instances_share_the_sign_in_throttle(
    tmp_path: Path, new_database_url: Callable[[str], str]
) -> None:
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    url = new_database_url("sqlite")
    first, second = instance(tmp_path / "a", url), instance(tmp_path / "b", url)
    with first.app_context():
        upgrade(directory=first.extensions["migrate"].directory)
        db.engine.dispose()
    email = f"target-{uuid.uuid4().hex}@example.com"  # a fresh counter in the shared Redis
    form = {"email": email, "password": "wrong password!"}
    for app in (first, second, first, second, first):
        assert app.test_client().post("/sign-in", data=form).status_code == 401
    blocked = second.test_client().post("/sign-in", data=form)
    assert blocked.status_code == 429
    assert re.search(rb"Too many attempts", blocked.data)
