"""The billing service's own web page, so a person can try its API: sign in through
authserver (code flow with PKCE), see the token's organizations and roles, call the two
guarded routes with it, and start an organization in which they are a billing clerk.

A first-party client of authserver's (`billing-web`), registered by run.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import urllib.parse
from typing import Any

import httpx
from authserver_rs import ClientCredentials, InvalidToken, IssuerUnavailable, Verifier
from flask import Blueprint, Flask, redirect, render_template_string, request, session, url_for
from werkzeug.wrappers import Response

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
PAGE = """<!doctype html>
<title>Billing</title>
<h1>Billing, an example service</h1>
{% if token is none %}
  <p><a href="{{ url_for('web.sign_in') }}">Sign in with authserver</a></p>
{% else %}
  <p>Signed in as {{ token.subject }} ({{ token.subject_kind }}).</p>
  {% for org in token.orgs or () %}
    <h2>{{ org.slug }}</h2>
    <p>Roles: {{ org.roles | sort | join(", ") or "none" }}</p>
    <form method="post" action="{{ url_for('web.try_route', org=org.slug) }}">
      <input type="hidden" name="csrf" value="{{ session.csrf }}">
      <button name="call" value="list">GET /orgs/{{ org.slug }}/invoices</button>
      <button name="call" value="create">POST /orgs/{{ org.slug }}/invoices</button>
    </form>
  {% endfor %}
  {% if answer %}<h2>The API answered</h2><pre>{{ answer }}</pre>{% endif %}
  <form method="post" action="{{ url_for('web.start_org') }}">
    <input type="hidden" name="csrf" value="{{ session.csrf }}">
    <input name="slug" placeholder="new-org-slug" required pattern="[a-z0-9][a-z0-9-]{0,40}">
    <button>Start an organization where I am a billing clerk</button>
  </form>
{% endif %}
"""


def add_web_pages(
    app: Flask, issuer: str, client: ClientCredentials, verifier: Verifier, base_url: str
) -> None:
    """`base_url` is where this service listens: its API is called there, never at a URL
    built from the request's Host header."""
    web = Blueprint("web", __name__)
    http = httpx.Client(timeout=10)
    callback_url = base_url.rstrip("/") + "/callback"
    # Cookies ignore ports: next to authserver on the same host, a cookie named like its
    # own ("session") would overwrite it.
    app.config.update(
        SESSION_COOKIE_NAME="billing_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    app.secret_key = app.secret_key or secrets.token_urlsafe(32)

    @web.before_request
    def check_csrf() -> tuple[str, int] | None:
        """Every form carries the session's CSRF token (a forged form post is refused)."""
        session.setdefault("csrf", secrets.token_urlsafe(16))
        if request.method == "POST" and not hmac.compare_digest(
            request.form.get("csrf", ""), session["csrf"]
        ):
            return "This form is stale or not ours (CSRF); go back and try again.", 400
        return None

    def authorize(purpose: str, **params: str) -> Response:
        """RFC 6749 §4.1 with PKCE (RFC 7636); state and verifier wait in the session."""
        verifier_value = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier_value.encode()).digest()
        session["flow"] = {
            "state": secrets.token_urlsafe(16),
            "verifier": verifier_value,
            "purpose": purpose,
        }
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": callback_url,
            "state": session["flow"]["state"],
            "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            **params,
        }
        endpoint = verifier.metadata["authorization_endpoint"]
        return redirect(f"{endpoint}?{urllib.parse.urlencode(query)}")

    @web.get("/")
    def home() -> str:
        token = None
        if "token" in session:
            try:
                token = verifier.verify(session["token"])
            except (InvalidToken, IssuerUnavailable):
                session.pop("token")
        return render_template_string(PAGE, token=token, answer=session.pop("answer", None))

    @web.get("/sign-in")
    def sign_in() -> Response:
        # A token for this service (RFC 8707), with every membership and its billing roles.
        return authorize("billing", scope="openid orgs", resource=verifier.audience)

    @web.get("/callback")
    def callback() -> Response | tuple[str, int]:
        flow = session.pop("flow", None)
        if flow is None or request.args.get("state") != flow["state"]:
            return "This sign-in is not ours (state); start again.", 400
        if "code" not in request.args:
            return f"authserver said: {request.args.get('error', 'no code')}", 400
        answer = http.post(
            verifier.metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": request.args["code"],
                "redirect_uri": callback_url,
                "code_verifier": flow["verifier"],
            },
            auth=client.basic_auth(),
        )
        if answer.status_code != 200:
            return f"authserver refused the code: {answer.text[:200]}", 502
        if flow["purpose"] == "billing":
            session["token"] = answer.json()["access_token"]
            return redirect(url_for("web.home"))
        session["answer"] = _start_org(http, issuer, answer.json()["access_token"], flow)
        return sign_in()  # the new org's roles are in the next token

    @web.post("/start-org")
    def start_org() -> Response | tuple[str, int]:
        slug = request.form.get("slug", "")
        if not SLUG.match(slug):
            return "A slug is lower-case letters, digits and dashes.", 400
        # A token for authserver's own API (audience `auth`) that may change organizations.
        response = authorize("start-org", scope="orgs orgs:write", resource="auth")
        session["flow"] = {**session["flow"], "slug": slug}
        return response

    @web.post("/try/<org>")
    def try_route(org: str) -> Response:
        url = base_url.rstrip("/") + f"/orgs/{urllib.parse.quote(org, safe='')}/invoices"
        headers = {"Authorization": f"Bearer {session.get('token', '')}"}
        if request.form.get("call") == "create":
            answer = http.post(url, headers=headers, json={"amount_cents": 1200})
        else:
            answer = http.get(url, headers=headers)
        session["answer"] = _describe(answer)
        return redirect(url_for("web.home"))

    app.register_blueprint(web)


def _start_org(http: httpx.Client, issuer: str, token: str, flow: dict[str, Any]) -> str:
    """Create the org (its creator is auth:owner) and add billing:clerk to the owner's roles."""
    api = f"{issuer.rstrip('/')}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    slug = flow["slug"]
    created = http.post(f"{api}/orgs", headers=headers, json={"name": slug, "slug": slug})
    if created.status_code != 201:
        return _describe(created)
    org_id = created.json()["id"]
    (me,) = http.get(f"{api}/orgs/{org_id}/members", headers=headers).json()
    roles = sorted({*me["roles"], "billing:clerk"})
    changed = http.put(
        f"{api}/orgs/{org_id}/members/{me['id']}/roles", headers=headers, json={"roles": roles}
    )
    return _describe(changed)


def _describe(answer: httpx.Response) -> str:
    lines = [f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}"]
    if "www-authenticate" in answer.headers:
        lines.append(f"WWW-Authenticate: {answer.headers['www-authenticate']}")
    return "\n".join([*lines, answer.text[:1000]])
