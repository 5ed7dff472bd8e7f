"""The hosted pages name the app and the product, offer a way back, and speak the person's
language (issue 19)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import PendingAuthorization, Session
from tests.factories import make_invitation, make_member, make_org, make_role, make_user
from tests.oauth_helpers import (
    RegisteredClient,
    authorize_params,
    csrf_token_in,
    pkce_pair,
    register_client,
    sign_in,
)

CHROME_ON_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def notes(app: Flask) -> RegisteredClient:
    return register_client(
        name="Notes",
        logo_uri="https://notes.example.com/logo.png",
        client_uri="https://notes.example.com/",
        policy_uri="https://notes.example.com/privacy",
        tos_uri="https://notes.example.com/terms",
    )


def start(http: FlaskClient, client: RegisteredClient, **over: str) -> str:
    """/authorize without a session: the pending id the sign-in page is shown for."""
    _verifier, challenge = pkce_pair()
    response = http.get("/authorize", query_string=authorize_params(client, challenge, **over))
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["pending"][0]


def page_of(http: FlaskClient, path: str, **headers: str) -> str:
    g.pop("csrf_token", None)
    g.pop("asking_request", None)
    response = http.get(path, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_sign_in_page_names_the_app_with_its_logo_and_links(
    http: FlaskClient, notes: RegisteredClient
) -> None:
    pending = start(http, notes)
    html = page_of(http, f"/sign-in?pending={pending}")
    assert "to continue to <strong>Notes</strong>" in html
    assert 'src="https://notes.example.com/logo.png"' in html
    for link in ("https://notes.example.com/", "/privacy", "/terms"):
        assert link in html
    assert "Cancel and go back to Notes" in html


def test_the_sign_in_page_without_a_request_names_no_app(http: FlaskClient) -> None:
    html = page_of(http, "/sign-in")
    assert "to continue to" not in html and "Cancel and go back" not in html


def test_going_back_tells_the_app_access_denied_at_its_redirect_uri(
    http: FlaskClient, notes: RegisteredClient
) -> None:
    pending = start(http, notes)
    html = page_of(http, f"/sign-in?pending={pending}")
    response = http.post(
        f"/authorize/cancel/{pending}", data={"csrf_token": csrf_token_in(html.encode())}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location._replace(query="").geturl() == notes.client.redirect_uris[0]
    query = parse_qs(location.query)
    assert query["error"] == ["access_denied"] and query["state"] == ["af0ifjsldkj"]
    assert query["iss"] == ["http://127.0.0.1:8000"]
    assert db.session.get(PendingAuthorization, uuid.UUID(pending)) is None


@pytest.mark.parametrize("pending", ["not-a-uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_going_back_from_an_unknown_request_says_it_expired(
    http: FlaskClient, pending: str
) -> None:
    html = page_of(http, "/sign-in")
    response = http.post(
        f"/authorize/cancel/{pending}", data={"csrf_token": csrf_token_in(html.encode())}
    )
    assert response.status_code == 400 and b"has expired" in response.data


def test_the_consent_page_names_the_app_and_offers_another_account(
    app: Flask, http: FlaskClient, notes: RegisteredClient
) -> None:
    sign_in(app, http, make_user(email="ada@example.com"))
    _verifier, challenge = pkce_pair()
    g.pop("asking_request", None)
    html = http.get("/authorize", query_string=authorize_params(notes, challenge)).get_data(True)
    assert "Allow <strong>Notes</strong> to use your account?" in html
    assert "to continue to <strong>Notes</strong>" in html
    assert "Not you? Use another account" in html and "/sign-in?pending=" in html
    assert "Deny and go back to Notes" in html


@pytest.mark.parametrize(
    ("over", "headers", "locale"),
    [
        ({"ui_locales": "de"}, {}, "de"),
        ({"ui_locales": "de-CH en"}, {}, "de"),
        ({}, {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}, "de"),
        ({"ui_locales": "en"}, {"Accept-Language": "de"}, "en"),  # ui_locales comes first
        ({"ui_locales": "fr"}, {"Accept-Language": "fr-FR"}, "en"),  # nothing we speak
        ({}, {}, "en"),
    ],
    ids=[
        "ui_locales",
        "ui_locales-region",
        "accept-language",
        "ui_locales-first",
        "fallback",
        "none",
    ],
)
def test_the_sign_in_page_speaks_the_asked_language(
    http: FlaskClient, notes: RegisteredClient, over: dict, headers: dict, locale: str
) -> None:
    pending = start(http, notes, **over)
    html = page_of(http, f"/sign-in?pending={pending}", **headers)
    assert f'<html lang="{locale}">' in html
    if locale == "de":
        assert "weiter zu <strong>Notes</strong>" in html and ">Anmelden<" in html
    else:
        assert "to continue to <strong>Notes</strong>" in html and ">Sign in<" in html


def test_discovery_lists_the_languages_of_the_pages(http: FlaskClient) -> None:
    metadata = http.get("/.well-known/openid-configuration").get_json()
    assert metadata["ui_locales_supported"] == ["en", "de"]


def test_a_missing_page_is_explained_in_our_words(http: FlaskClient) -> None:
    response = http.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and "This page does not exist" in html
    assert "The requested URL was not found" not in html  # Werkzeug's stock sentence


def test_a_missing_page_is_explained_in_german_when_asked(http: FlaskClient) -> None:
    response = http.get("/no-such-page", headers={"Accept-Language": "de"})
    assert "Diese Seite gibt es nicht" in response.get_data(as_text=True)


def test_a_wrong_method_is_explained_in_our_words(http: FlaskClient) -> None:
    response = http.delete("/sign-in")
    assert response.status_code == 405
    assert "This page cannot be used that way" in response.get_data(as_text=True)


def test_the_account_page_reads_like_a_person_would_say_it(app: Flask, http: FlaskClient) -> None:
    person = make_user(email="ada@example.com", display_name="Ada", email_verified=True)
    inviter = make_user(display_name="Grace Hopper")
    viewer = make_role("billing", "viewer", description="See invoices and payments")
    make_member(make_org(name="Engines"), person, [viewer])
    make_invitation(make_org(name="Looms"), email="ada@example.com", inviter_id=inviter.id)
    db.session.commit()
    session_id = sign_in(app, http, person)
    session = db.session.get(Session, session_id)
    session.user_agent = CHROME_ON_LINUX
    session.created_at = utcnow() - timedelta(hours=3)
    db.session.commit()

    html = page_of(http, "/account")
    assert "Chrome on Linux" in html and "Mozilla/5.0" not in html
    assert "signed in 3 hours ago" in html
    assert "See invoices and payments" in html and "billing:viewer" not in html
    assert "Grace Hopper invited you" in html


def test_the_account_page_in_german_says_times_the_german_way(
    app: Flask, http: FlaskClient
) -> None:
    person = make_user(email="ada@example.com")
    db.session.commit()
    session_id = sign_in(app, http, person)
    db.session.get(Session, session_id).created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    html = page_of(http, "/account", **{"Accept-Language": "de"})
    assert "angemeldet vor 2 Tagen" in html and "Ihr Konto" in html


def test_the_brand_names_every_page_and_colours_it(
    tmp_path,
    new_database_url,  # noqa: ANN001
) -> None:
    from flask_migrate import upgrade

    from authserver import create_app
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        new_database_url("sqlite"),
        brand_name="Acme ID",
        brand_accent="#7a1fa2",
        brand_logo_uri="https://cdn.acme.example/logo.svg",
        brand_support_uri="mailto:help@acme.example",
        brand_privacy_uri="https://acme.example/privacy",
    )
    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        http = app.test_client()
        html = http.get("/sign-in").get_data(as_text=True)
        assert "<title>Sign in · Acme ID</title>" in html
        assert 'src="https://cdn.acme.example/logo.svg"' in html
        assert 'href="mailto:help@acme.example"' in html and ">Privacy<" in html
        css = http.get("/brand.css")
        assert css.mimetype == "text/css" and "--accent: #7a1fa2" in css.get_data(as_text=True)
        db.engine.dispose()


@pytest.mark.parametrize(
    ("done", "words"),
    [
        ("signed-out-there", "That session is signed out."),
        ("disconnected", "The app is disconnected"),
        ("accepted", "You joined the organization."),
        ("<script>", None),  # anything else shows nothing, never the value itself
    ],
)
def test_the_account_page_confirms_what_was_done(
    app: Flask, http: FlaskClient, done: str, words: str | None
) -> None:
    sign_in(app, http, make_user())
    html = page_of(http, f"/account?done={done}")
    if words is None:
        assert 'class="notice"' not in html and "<script>" not in html
    else:
        assert f'<p class="notice" role="status">{words}' in html


def test_ending_another_session_comes_back_with_a_confirmation(
    app: Flask, http: FlaskClient
) -> None:
    person = make_user()
    db.session.commit()
    other = sign_in(app, http.application.test_client(), person)
    sign_in(app, http, person)
    html = page_of(http, "/account")
    response = http.post(
        f"/account/sessions/{other}/end", data={"csrf_token": csrf_token_in(html.encode())}
    )
    assert response.headers["Location"].endswith("/account?done=signed-out-there")


def test_too_many_attempts_say_when_to_try_again_and_lead_back_to_the_form(
    http: FlaskClient,
) -> None:
    make_user(email="ada@example.com")
    db.session.commit()
    html = page_of(http, "/sign-in")
    form = {"csrf_token": csrf_token_in(html.encode()), "email": "ada@example.com"}
    referer = {"Referer": "http://localhost/sign-in"}
    statuses = [
        http.post("/sign-in", data={**form, "password": "wrong password!"}, headers=referer)
        for _ in range(6)
    ]
    refused = statuses[-1]
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Too many attempts" in page
    assert f"You can try again in {refused.headers['Retry-After']} seconds." in page
    assert 'href="http://localhost/sign-in">Back to the form' in page


def test_the_way_back_to_a_form_is_never_another_site(http: FlaskClient) -> None:
    make_user(email="ada@example.com")
    db.session.commit()
    html = page_of(http, "/sign-in")
    form = {"csrf_token": csrf_token_in(html.encode()), "email": "ada@example.com"}
    evil = {"Referer": "https://evil.example/sign-in"}
    for _ in range(6):
        refused = http.post("/sign-in", data={**form, "password": "wrong!"}, headers=evil)
    assert refused.status_code == 429 and b"evil.example" not in refused.data
