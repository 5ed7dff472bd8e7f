"""A server whose database has no schema yet (`authserver init` not run) answers 503 in each
endpoint's format, alike on both databases (SQLite says OperationalError, PostgreSQL
ProgrammingError), never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import create_app
from authserver.extensions import db
from tests.conftest import BACKENDS, make_settings

BASIC = "Basic YTpi"  # a:b


@pytest.fixture(params=BACKENDS)
def unmigrated(
    request: pytest.FixtureRequest, new_database_url: Callable[[str], str], tmp_path: Path
) -> Iterator[FlaskClient]:
    app: Flask = create_app(make_settings(tmp_path, new_database_url(request.param)))
    app.config["TESTING"] = True
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "mimetype"),
    [
        ("POST", "/token", {"data": {"grant_type": "refresh_token", "refresh_token": "r",
                                     "client_id": "a"}}, "application/json"),
        ("POST", "/introspect", {"data": {"token": "t"}, "headers": {"Authorization": BASIC}},
         "application/json"),
        ("GET", "/authorize", {"query_string": {"client_id": "a"}}, "text/html"),
    ],
    ids=["token", "introspect", "page"],
)  # fmt: skip
def test_a_database_without_the_schema_is_a_503_in_the_endpoints_format(
    unmigrated: FlaskClient, method: str, path: str, kwargs: dict, mimetype: str
) -> None:
    response = unmigrated.open(path, method=method, **kwargs)
    assert (response.status_code, response.mimetype) == (503, mimetype), response.data[:300]
    assert response.headers["Retry-After"]
