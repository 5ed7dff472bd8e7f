"""GET /authorize: validation, the sign-in hand-off and resume, prompt, max_age, consent."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.extensions import db
from authserver.models import User
from tests.factories import make_user
from tests.oauth_helpers import (
    ISSUER,
    RegisteredClient,
    authorize_params,
    csrf_token_in,
    pkce_pair,
    redeem,
    redirect_params,
    register_client,
    sign_in,
    verify_as_resource_server,
)

CALLBACK = "https://app.example.com/callback"


@pytest.fixture
def person(app: Flask) -> User:
    user = make_user(email_verified=True)
    db.session.commit()
    return user


@pytest.fixture
def first_party(app: Flask) -> RegisteredClient:
    return register_client(is_first_party=True)


@pytest.fixture
def third_party(app: Flask) -> RegisteredClient:
    return register_client(name="Acme Reports")


def consent_action(html: bytes) -> str:
    return re.search(rb'<form method="post" action="([^"]+)"', html).group(1).decode()


def test_a_signed_in_person_gets_a_code_that_redeems_for_tokens(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    session_id = sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    response = http.get("/authorize", query_string=authorize_params(first_party, challenge))
    params = redirect_params(response)
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert params["state"] == "af0ifjsldkj" and params["iss"] == ISSUER
    tokens = redeem(http, first_party, params["code"], verifier).json
    id_token = verify_as_resource_server(http, tokens["id_token"], first_party.client_id).claims
    assert id_token["sid"] == str(session_id) and id_token["nonce"] == "n-0S6_WzA2Mj"
    assert id_token["sub"] == str(person.id) and id_token["amr"] == ["pwd"]


def test_without_a_session_the_request_is_parked_and_resumed_after_sign_in(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    verifier, challenge = pkce_pair()
    response = http.get(
        "/authorize", query_string=authorize_params(first_party, challenge, login_hint="a@b.c")
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sign-in"
    query = parse_qs(location.query)
    assert query["login_hint"] == ["a@b.c"]
    pending_id = query["pending"][0]

    assert http.get(f"/authorize/resume/{pending_id}").headers["Location"].startswith("/sign-in")
    sign_in(app, http, person)
    params = redirect_params(http.get(f"/authorize/resume/{pending_id}"))
    assert params["state"] == "af0ifjsldkj"
    assert redeem(http, first_party, params["code"], verifier).status_code == 200
    gone = http.get(f"/authorize/resume/{pending_id}")
    assert gone.status_code == 400 and b"expired" in gone.data


def test_prompt_none_without_a_session_is_login_required(
    http: FlaskClient, first_party: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    params = redirect_params(
        http.get("/authorize", query_string=authorize_params(first_party, challenge, prompt="none"))
    )
    assert params["error"] == "login_required"
    assert params["state"] == "af0ifjsldkj" and params["iss"] == ISSUER


def test_prompt_none_when_consent_is_needed_is_consent_required(
    app: Flask, http: FlaskClient, person: User, third_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    params = redirect_params(
        http.get("/authorize", query_string=authorize_params(third_party, challenge, prompt="none"))
    )
    assert params["error"] == "consent_required"


def test_max_age_exceeded_forces_a_fresh_sign_in(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient, move_clock
) -> None:  # noqa: ANN001
    sign_in(app, http, person)
    move_clock(minutes=10)
    verifier, challenge = pkce_pair()
    query = authorize_params(first_party, challenge, max_age="300")
    response = http.get("/authorize", query_string=query)
    assert urlsplit(response.headers["Location"]).path == "/sign-in"
    pending_id = parse_qs(urlsplit(response.headers["Location"]).query)["pending"][0]
    sign_in(app, http, person)
    params = redirect_params(http.get(f"/authorize/resume/{pending_id}"))
    assert redeem(http, first_party, params["code"], verifier).status_code == 200


def test_max_age_within_the_limit_needs_no_sign_in(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    query = authorize_params(first_party, challenge, max_age="300")
    assert "code" in redirect_params(http.get("/authorize", query_string=query))


def test_prompt_login_asks_again_even_with_a_session(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    response = http.get(
        "/authorize", query_string=authorize_params(first_party, challenge, prompt="login")
    )
    location = urlsplit(response.headers["Location"])
    assert location.path == "/sign-in"
    pending_id = parse_qs(location.query)["pending"][0]
    assert urlsplit(http.get(f"/authorize/resume/{pending_id}").headers["Location"]).path == (
        "/sign-in"
    )  # the old session does not count
    sign_in(app, http, person)
    assert "code" in redirect_params(http.get(f"/authorize/resume/{pending_id}"))


def test_a_third_party_client_asks_for_consent_and_remembers_it(
    app: Flask, http: FlaskClient, person: User, third_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    page = http.get("/authorize", query_string=authorize_params(third_party, challenge))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"Acme Reports" in page.data and b"See your email address" in page.data
    assert page.headers["Cache-Control"] == "no-store"

    answer = http.post(
        consent_action(page.data),
        data={"csrf_token": csrf_token_in(page.data), "decision": "approve"},
    )
    params = redirect_params(answer)
    assert params["iss"] == ISSUER
    assert redeem(http, third_party, params["code"], verifier).status_code == 200

    again = http.get("/authorize", query_string=authorize_params(third_party, challenge))
    assert "code" in redirect_params(again)
    wider = http.get(
        "/authorize", query_string=authorize_params(third_party, challenge, scope="openid orgs")
    )
    assert wider.status_code == 200 and b"organizations you belong to" in wider.data
    forced = http.get(
        "/authorize", query_string=authorize_params(third_party, challenge, prompt="consent")
    )
    assert forced.status_code == 200


def test_denying_consent_returns_access_denied(
    app: Flask, http: FlaskClient, person: User, third_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    page = http.get("/authorize", query_string=authorize_params(third_party, challenge))
    answer = http.post(
        consent_action(page.data), data={"csrf_token": csrf_token_in(page.data), "decision": "deny"}
    )
    params = redirect_params(answer)
    assert params["error"] == "access_denied"
    assert params["state"] == "af0ifjsldkj" and params["iss"] == ISSUER


def test_the_consent_form_needs_its_csrf_token(
    app: Flask, http: FlaskClient, person: User, third_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    page = http.get("/authorize", query_string=authorize_params(third_party, challenge))
    forged = http.post(consent_action(page.data), data={"decision": "approve"})
    assert forged.status_code == 400 and "Location" not in forged.headers


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "no-such-client"},
        {"client_id": None},
        {"redirect_uri": "https://evil.example.com/callback"},
        {"redirect_uri": CALLBACK + "/"},
        {"redirect_uri": CALLBACK + "?extra=1"},
    ],
    ids=["unknown-client", "no-client", "foreign-uri", "trailing-slash", "extra-query"],
)
def test_an_unverified_client_or_redirect_uri_gets_a_page_never_a_redirect(
    http: FlaskClient, first_party: RegisteredClient, change: dict
) -> None:
    _, challenge = pkce_pair()
    response = http.get(
        "/authorize", query_string=authorize_params(first_party, challenge, **change)
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid services:sync"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"state": "x" * 5000}, "invalid_request"),
    ],
    ids=[
        "no-pkce",
        "plain-pkce",
        "no-method",
        "implicit",
        "scope-not-allowed",
        "prompt-none-and",
        "unknown-prompt",
        "bad-max-age",
        "oversized",
    ],
)
def test_other_errors_go_back_to_the_client_with_state_and_iss(
    app: Flask,
    http: FlaskClient,
    person: User,
    first_party: RegisteredClient,
    change: dict,
    error: str,
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    query = authorize_params(first_party, challenge, **change)
    params = redirect_params(http.get("/authorize", query_string=query))
    assert params["error"] == error
    assert params["iss"] == ISSUER
    assert "code" not in params


def test_repeated_parameters_never_give_a_code(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    query = "&".join(f"{k}={v}" for k, v in authorize_params(first_party, challenge).items())
    response = http.get(f"/authorize?{query}&scope=openid")
    assert response.status_code in (302, 400)
    assert "code=" not in response.headers.get("Location", "")


def test_an_invalid_utf8_query_is_a_page_not_a_500(http: FlaskClient) -> None:
    response = http.get("/authorize?client_id=%ff%fe&response_type=code")
    assert response.status_code == 400 and b"Traceback" not in response.data


def test_an_unknown_pending_id_is_a_friendly_page(http: FlaskClient) -> None:
    for pending_id in ("not-a-uuid", "7d0c5b8e-4a8e-4f59-9d3a-0c1f6b1a2e33"):
        response = http.get(f"/authorize/resume/{pending_id}")
        assert response.status_code == 400 and b"expired" in response.data


def test_a_code_from_authorize_is_single_use(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    verifier, challenge = pkce_pair()
    code = redirect_params(
        http.get("/authorize", query_string=authorize_params(first_party, challenge))
    )["code"]
    assert redeem(http, first_party, code, verifier).status_code == 200
    assert redeem(http, first_party, code, verifier).json["error"] == "invalid_grant"


def test_authorize_by_post_works_too(
    app: Flask, http: FlaskClient, person: User, first_party: RegisteredClient
) -> None:
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    assert "code" in redirect_params(
        http.post("/authorize", data=authorize_params(first_party, challenge))
    )
