"""Every number a request or a setting carries is ASCII digits: Unicode digits ("²", "٣")
are refused in the endpoint's format, never a 500 and never read as a number."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import ConfigError
from authserver.extensions import db
from tests.api.conftest import Person, assert_problem
from tests.conftest import make_settings
from tests.factories import make_user
from tests.oauth_helpers import (
    authorize_params,
    pkce_pair,
    redirect_params,
    register_client,
    sign_in,
)

NOT_ASCII_NUMBERS = ["²", "٣٠٠", "३", "３", " 300", "3_00", "+300"]


@pytest.mark.parametrize("max_age", NOT_ASCII_NUMBERS)
def test_a_max_age_that_is_not_ascii_digits_is_invalid_request(
    app: Flask, http: FlaskClient, max_age: str
) -> None:
    client = register_client(is_first_party=True)
    sign_in(app, http, make_user())
    db.session.commit()
    _, challenge = pkce_pair()
    query = authorize_params(client, challenge, max_age=max_age)
    params = redirect_params(http.get("/authorize", query_string=query))
    assert params["error"] == "invalid_request" and "code" not in params


@pytest.mark.parametrize("limit", NOT_ASCII_NUMBERS)
def test_an_audit_page_limit_that_is_not_ascii_digits_is_a_400_problem(
    app: Flask, api: None, limit: str
) -> None:
    owner = Person(app, "owner@example.com")
    org = owner.call("POST", "", {"name": "Acme", "slug": "acme"}).json
    response = owner.http.get(
        f"/api/v1/orgs/{org['id']}/audit-events",
        query_string={"limit": limit},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert_problem(response, 400)


# Settings are read stripped of surrounding spaces, on purpose (config._read).
@pytest.mark.parametrize("value", [n for n in NOT_ASCII_NUMBERS if n.strip() == n])
@pytest.mark.parametrize("setting", ["trusted_proxies", "access_token_ttl"])
def test_a_numeric_setting_that_is_not_ascii_digits_is_refused(
    tmp_path: Path, setting: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=setting.upper()):
        make_settings(tmp_path, f"sqlite:///{tmp_path}/a.db", **{setting: value})


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_an_id_spelled_with_other_digits_names_nothing(app: Flask, api: None) -> None:
    """uuid.UUID reads "٣" as 3: without ASCII-only parsing one org has many URLs."""
    owner = Person(app, "owner@example.com")
    org = owner.call("POST", "", {"name": "Acme", "slug": "acme"}).json
    alias = org["id"].translate(ARABIC_INDIC)
    assert alias != org["id"]
    assert owner.call("GET", f"/{org['id']}").status_code == 200
    assert_problem(owner.call("GET", f"/{alias}"), 404)
    assert_problem(owner.call("GET", f"/{alias.replace('-', '')}/members"), 404)


def test_a_parked_request_spelled_with_other_digits_is_not_found(
    app: Flask, http: FlaskClient
) -> None:
    client = register_client(is_first_party=True)
    _, challenge = pkce_pair()
    response = http.get("/authorize", query_string=authorize_params(client, challenge))
    pending_id = response.headers["Location"].rsplit("pending=", 1)[1]
    assert http.get(f"/authorize/resume/{pending_id}").status_code == 302
    alias = http.get(f"/authorize/resume/{pending_id.translate(ARABIC_INDIC)}")
    assert alias.status_code == 400 and alias.mimetype == "text/html"
