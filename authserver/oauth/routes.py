"""Routes of the oauth blueprint: /authorize (and its resume and consent), /token, /revoke,
/introspect."""

from __future__ import annotations

from flask import Blueprint, Response, request

from authserver.extensions import csrf, db
from authserver.oauth import authorize as flow
from authserver.oauth.pending import expired_page, find
from authserver.oauth.server import current_server

oauth = Blueprint("oauth", __name__)


def _committed(response: Response) -> Response:
    """One commit per request, error or not: a refused replay must still leave its revocation."""
    db.session.commit()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@oauth.post("/token")
@csrf.exempt
def issue_token() -> Response:
    return _committed(current_server().create_token_response())


@oauth.post("/revoke")
@csrf.exempt
def revoke_token() -> Response:
    return _committed(current_server().create_endpoint_response("revocation"))


@oauth.post("/introspect")
@csrf.exempt
def introspect_token() -> Response:
    return _committed(current_server().create_endpoint_response("introspection"))


@oauth.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1: clients may POST the request; it carries no session change
def authorize() -> Response:
    return flow.run(parked=None)


@oauth.get("/authorize/resume/<pending_id>")
def resume_authorization(pending_id: str) -> Response | tuple[str, int]:
    parked = find(pending_id)
    if parked is None:
        return expired_page()
    return flow.run(parked=parked)


@oauth.post("/authorize/consent/<pending_id>")
def decide_consent(pending_id: str) -> Response | tuple[str, int]:
    parked = find(pending_id)
    if parked is None:
        return expired_page()
    return flow.decide_consent(parked, approved=request.form.get("decision") == "approve")
