"""Routes of the oauth blueprint: /token, /revoke, /introspect."""

from __future__ import annotations

from flask import Blueprint, Response

from authserver.extensions import csrf, db
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
