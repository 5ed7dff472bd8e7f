"""Security tests as a reviewer writes them, across every route rather than one at a time:
CSRF on every form, no framing of any page, no redirect off-site from any redirecting
route, names escaped wherever they show, session fixation, production cookie flags, and
constant-time comparison of secrets."""

from __future__ import annotations

import hmac
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import csrf as flask_wtf_csrf

from authserver import create_app
from authserver.extensions import csrf, db
from authserver.identity.passwords import hash_password
from authserver.models import Invitation, Role
from tests.conftest import make_settings
from tests.factories import make_member, make_org, make_user
from tests.oauth_helpers import (
    authorize_params,
    csrf_token_in,
    pkce_pair,
    register_client,
    sign_in,
)

EVIL = "https://evil.example/steal"
XSS = '<script>alert("x")</script>'
PASSWORD = "correct horse battery staple"


def _form_posts(app: Flask) -> list[str]:
    """Every POST route that is not CSRF-exempt (the OAuth endpoints and the Bearer API
    are, by design: no cookie authenticates them, so nothing can be forged)."""
    posts = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        view = app.view_functions[rule.endpoint]
        blueprint = rule.endpoint.rpartition(".")[0]
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            continue
        if blueprint in {exempt.name for exempt in csrf._exempt_blueprints}:
            continue
        posts.append(rule.build({arg: str(uuid.uuid4()) for arg in rule.arguments})[1])
    return posts


def test_every_form_post_is_refused_without_its_csrf_token(app: Flask, http: FlaskClient) -> None:
    sign_in(app, http, make_user())
    db.session.commit()
    posts = _form_posts(app)
    assert {"/sign-in", "/authorize/consent/"} <= {re.sub(r"[0-9a-f-]{36}", "", p) for p in posts}
    for path in posts:
        response = http.post(path, data={"anything": "1"})
        assert response.status_code == 400, path
        assert b"This form has expired" in response.data, path  # a CSRF refusal, in words


def _html_pages(app: Flask, http: FlaskClient) -> list[str]:
    person = make_user(display_name="Ada")
    db.session.commit()
    client = register_client(name="Acme Reports")
    sign_in(app, http, person)
    _, challenge = pkce_pair()
    consent = "/authorize?" + "&".join(
        f"{k}={v}" for k, v in authorize_params(client, challenge).items()
    )
    return ["/sign-in", "/account", "/signed-in", consent, "/authorize", "/no-such-page",
            "/logout"]  # fmt: skip


def test_every_page_refuses_to_be_framed(app: Flask, http: FlaskClient) -> None:
    for path in _html_pages(app, http):
        response = http.get(path)
        assert response.mimetype == "text/html", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/sign-in", {"return_to": EVIL, "next": EVIL}),
        ("/signed-in", {"return_to": EVIL, "next": EVIL}),
        ("/authorize", {"client_id": "{client}", "redirect_uri": EVIL, "response_type": "code"}),
        ("/authorize", {"client_id": "nobody", "redirect_uri": EVIL, "response_type": "code"}),
        ("/logout", {"post_logout_redirect_uri": EVIL, "client_id": "{client}"}),
        ("/logout", {"post_logout_redirect_uri": "//evil.example/x"}),
        ("/sign-in/google/callback", {"state": "x", "code": "y", "next": EVIL}),
        ("/authorize/resume/00000000-0000-0000-0000-000000000000", {"next": EVIL}),
    ],
)
def test_no_route_redirects_off_site(
    app: Flask, http: FlaskClient, path: str, query: dict[str, str]
) -> None:
    client = register_client()
    sign_in(app, http, make_user())
    db.session.commit()
    query = {k: v.format(client=client.client_id) for k, v in query.items()}
    response = http.get(path, query_string=query)
    location = response.headers.get("Location", "")
    assert urlsplit(location).netloc in ("", "localhost", "127.0.0.1:8000"), location


def test_a_sign_in_form_post_never_returns_off_site(app: Flask, http: FlaskClient) -> None:
    make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
    db.session.commit()
    page = http.get("/sign-in")
    response = http.post(
        "/sign-in",
        data={"csrf_token": csrf_token_in(page.data), "email": "ada@example.com",
              "password": PASSWORD, "return_to": EVIL, "next": EVIL},
    )  # fmt: skip
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


def test_names_are_escaped_wherever_they_show(app: Flask, http: FlaskClient) -> None:
    person = make_user(display_name=XSS, email="ada@example.com")
    org = make_org(name=XSS)
    inviter_org = make_org(name=XSS + " 2")
    make_member(org, person)
    invitation = Invitation(organization_id=inviter_org.id, email="ada@example.com")
    invitation.token_hash, invitation.expires_at = "0" * 64, org.created_at.replace(year=2099)
    invitation.roles = [Role.find("auth", "member")] if Role.find("auth", "member") else []
    db.session.add(invitation)
    db.session.commit()
    client = register_client(name=XSS)
    sign_in(app, http, person)
    _, challenge = pkce_pair()

    pages = {
        "consent": http.get("/authorize", query_string=authorize_params(client, challenge)),
        "account": http.get("/account"),
        "logout": http.get("/logout", query_string={"client_id": client.client_id}),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert b"<script>" not in page.data, name
        assert b"&lt;script&gt;" in page.data, name


def test_a_planted_session_cookie_is_replaced_at_sign_in(app: Flask, http: FlaskClient) -> None:
    """Session fixation: a cookie an attacker planted (their own session) never becomes
    the victim's; signing in always starts a new session with a new token."""
    make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
    mallory = make_user(email="mallory@example.com")
    db.session.commit()
    cookie_name = app.extensions["authserver.settings"].session_cookie_name
    sign_in(app, http, mallory)
    planted = http.get_cookie(cookie_name).value

    page = http.get("/sign-in")
    form = {"csrf_token": csrf_token_in(page.data), "email": "ada@example.com",
            "password": PASSWORD}  # fmt: skip
    assert http.post("/sign-in", data=form).status_code == 303

    assert http.get_cookie(cookie_name).value != planted
    other = app.test_client()
    other.set_cookie(cookie_name, planted)
    assert b"ada@example.com" not in other.get("/account").data  # never became Ada's


def test_production_cookies_are_host_only_secure_httponly_and_lax(
    tmp_path: Path,
    new_database_url,
    monkeypatch,  # noqa: ANN001
) -> None:
    url = new_database_url("postgresql")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    app = create_app(
        make_settings(tmp_path, url, env="production", issuer="https://auth.example.com",
                      keys_dir=str(keys))
    )  # fmt: skip
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        app.extensions["authserver.keys"].ensure_key()
        user = make_user(email="ada@example.com", password_hash=hash_password(PASSWORD))
        db.session.commit()
        assert user.id
    http = app.test_client()
    page = http.get("/sign-in", base_url="https://auth.example.com")
    # What a browser sends under our Referrer-Policy (same-origin) when posting the form.
    form = {"csrf_token": csrf_token_in(page.data), "email": "ada@example.com",
            "password": PASSWORD}  # fmt: skip
    signed = http.post(
        "/sign-in",
        data=form,
        base_url="https://auth.example.com",
        headers={"Referer": "https://auth.example.com/sign-in"},
    )
    assert signed.status_code == 303, signed.data[:500]
    cookies = signed.headers.getlist("Set-Cookie")
    ours = next(c for c in cookies if c.startswith("__Host-authserver="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in ours
    assert "Domain=" not in ours
    for cookie in cookies:  # Flask's own session cookie (CSRF, upstream state) too
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with app.app_context():
        db.engine.dispose()


def test_secrets_are_compared_in_constant_time(
    app: Flask, http: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Client secrets and CSRF tokens go through hmac.compare_digest. (Codes, refresh
    tokens, session and invitation tokens are looked up by their SHA-256, so a timing
    difference could at most reveal a hash prefix, never the secret; passwords go
    through argon2's own verification.)"""
    compared: list[object] = []
    real = hmac.compare_digest

    def spy(a: object, b: object) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    monkeypatch.setattr(flask_wtf_csrf.hmac, "compare_digest", spy)
    client = register_client(
        service_name=None, grant_types=["authorization_code"], redirect_uris=["https://a/cb"]
    )
    assert client.client.check_client_secret(client.secret) and compared
    compared.clear()
    assert not client.client.check_client_secret("wrong") and compared
    compared.clear()
    page = http.get("/sign-in")
    http.post("/sign-in", data={"csrf_token": csrf_token_in(page.data), "email": "x@y.z",
                                "password": "nope-nope-nope"})  # fmt: skip
    assert compared, "the CSRF token was not compared with compare_digest"
