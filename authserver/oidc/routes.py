"""Routes of the oidc blueprint: discovery, the JWKS, /userinfo and /logout."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, validate_csrf

from authserver.errors import render_error_page
from authserver.extensions import csrf, db
from authserver.identity import sessions
from authserver.oauth.server import current_server
from authserver.oidc.published import current_published
from authserver.oidc.userinfo import require_token, userinfo_claims

oidc = Blueprint("oidc", __name__)


@oidc.get("/.well-known/openid-configuration")
@oidc.get("/.well-known/oauth-authorization-server")
@oidc.get("/jwks.json")
def published_document() -> Response:
    """GET and HEAD are answered in front of Flask (oidc/published.py); these routes name
    the URLs for discovery and url_for, and answer any request that reaches them alike."""
    status, headers, body = current_published().answer(
        request.path, request.headers.get("If-None-Match")
    )
    return Response(body, status=status, headers=headers)


@oidc.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
@require_token("openid")
def userinfo() -> Response:
    g.client_id, g.user_id = current_token.claims.get("client_id"), current_token.person_id()
    claims = userinfo_claims(current_token)
    if claims is None:
        require_token.raise_error_response(
            InvalidTokenError(description="The token does not belong to a person.")
        )
    response = jsonify(claims)
    response.headers["Cache-Control"] = "no-store"
    return response


LOGOUT_PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint")


@oidc.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # an RP may POST here (RP-Initiated Logout §2); confirmation is checked below
def logout() -> Response | tuple[str, int]:
    server = current_server()
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error:
        # RP-Initiated Logout §4: on an error, never redirect.
        return render_error_page(
            gettext("This sign-out link is not valid"),
            gettext("Nothing was changed. Go back to the app and try again."),
            status=400,
        )
    session = sessions.current()
    params = {name: request.values[name] for name in LOGOUT_PARAMS if name in request.values}
    if session is None:
        return _without_session(end_request, params)
    if not _is_confirmed(end_request, session):
        page = render_template(
            "oidc/confirm_logout.html",
            client=end_request.client,
            person=session.user,
            params=params,
        )
        return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})
    response = server.create_endpoint_response("end_session", end_request)
    if response is None:
        response = Response(render_template("oidc/signed_out.html"), mimetype="text/html")
    db.session.commit()
    sessions.clear_cookie(response, current_app.extensions["authserver.settings"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _without_session(end_request: Any, params: dict[str, str]) -> Response:
    """Nothing to end, and the cookie is left alone: clearing it would sign the browser
    out while the server session it names lives on. RP-Initiated Logout §2 lets an RP POST
    here, but our SameSite=Lax cookie does not come with a cross-site POST: such a request
    continues as a GET, which carries it (and then ends the session or asks first)."""
    if request.method == "POST":
        return redirect(url_for("oidc.logout", **params), code=303)
    if end_request.redirect_uri:  # proven by id_token_hint (§3): the RP gets its user back
        response = redirect(end_request.redirect_uri, code=302)
    else:
        response = Response(render_template("oidc/signed_out.html"), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_confirmed(end_request: object, session: object) -> bool:
    """A hint naming this person, or the person pressing our own CSRF-protected button."""
    claims = getattr(end_request, "id_token_claims", None)
    if claims and claims.get("sub") == str(session.user_id):
        return True
    if request.method != "POST" or request.form.get("confirm") != "yes":
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (CSRFError, ValueError):
        return False
    return True
