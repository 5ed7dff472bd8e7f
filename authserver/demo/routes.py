"""The /demo pages: a relying party of this very server, driving a real code flow with PKCE
over HTTP through Authlib's client, then showing the tokens it received and what our API
answers to its access token. On only with
AUTHSERVER_DEMO=on (never in production)."""

from __future__ import annotations

import json
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, Flask, Response, current_app, render_template, url_for
from flask_babel import gettext
from joserfc import jwt
from joserfc.jwk import KeySet

from authserver.config import Settings, current_settings
from authserver.demo.seed import DEMO_CLIENT_ID
from authserver.identity.upstream import BoundedOAuthApp
from authserver.oauth.tokens import API_AUDIENCE

demo = Blueprint("demo", __name__, url_prefix="/demo")
# Upstream names start with a letter, so this one can never collide with them.
DEMO_CLIENT_NAME = "_demo"


def init_demo(app: Flask, settings: Settings) -> None:
    if not settings.demo:
        return
    oauth = app.extensions["authserver.oauth_clients"]
    oauth.register(
        DEMO_CLIENT_NAME,
        client_id=DEMO_CLIENT_ID,
        client_secret=None,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        token_endpoint_auth_method="none",
        client_cls=BoundedOAuthApp,
        client_kwargs={
            "scope": "openid profile email offline_access orgs",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "none",
        },
    )
    app.register_blueprint(demo)


def _client() -> Any:
    return current_app.extensions["authserver.oauth_clients"].create_client(DEMO_CLIENT_NAME)


@demo.get("")
def start_page() -> Response:
    return Response(render_template("demo/start.html"), mimetype="text/html")


@demo.get("/start")
def start() -> Response:
    callback = current_settings().issuer + url_for("demo.callback")
    # The access token is for our own API (README "API audience and scopes"), which the
    # callback calls with it; `orgs` lets it read, nothing more.
    return _client().authorize_redirect(callback, resource=API_AUDIENCE)


@demo.get("/callback")
def callback() -> Response | tuple[str, int]:
    try:
        token = _client().authorize_access_token()
    except OAuthError as error:
        page = render_template(
            "demo/failed.html", error=error.error, words=_demo_failure_words(error.error)
        )
        return page, 400
    keys = KeySet.import_key_set(_client().fetch_jwk_set())
    access = jwt.decode(token["access_token"], keys)
    my_orgs = _client().get(current_settings().issuer + "/api/v1/orgs", token=token)
    page = render_template(
        "demo/result.html",
        id_token=_pretty(token["userinfo"]),
        access_token=_pretty({"header": access.header, "claims": access.claims}),
        api_status=my_orgs.status_code,
        api_answer=json.dumps(my_orgs.json(), indent=2, sort_keys=True),
        has_refresh_token="refresh_token" in token,
    )
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


def _pretty(value: Any) -> str:
    return json.dumps(dict(value), indent=2, sort_keys=True, default=str)


def _demo_failure_words(error: str) -> str:
    """The OAuth error code in words for a person (RFC 6749 §4.1.2.1's codes)."""
    if error == "access_denied":
        return gettext("You chose not to sign in, so the demo app has no access.")
    return gettext("Something went wrong between the demo app and the server. Start again.")
