"""Routes of the oauth blueprint: /authorize (and its resume and consent), /token, /revoke,
/introspect."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from authserver.extensions import csrf, db, limiter
from authserver.metrics import count_token_issued
from authserver.oauth import authorize as flow
from authserver.oauth import par, token_rate
from authserver.oauth.pending import expired_page, find
from authserver.oauth.server import current_server

oauth = Blueprint("oauth", __name__)


def _committed(response: Response) -> Response:
    """One commit per request, error or not: a refused replay must still leave its revocation.
    A request that touched no row (a cached client's client_credentials token) has nothing
    to commit, and skipping the empty commit saves a tenth of its time; it has not even
    made a session, and none is made to ask."""
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@oauth.post("/token")
@csrf.exempt
def issue_token() -> Response:
    """Tokens, within the client's rate (oauth/token_rate.py: counted once the client is
    authenticated, given back here unless a token is issued)."""
    g.pop("token_client_id", None)  # g may outlive one request (a test's app context)
    issued = False
    try:
        response = _committed(current_server().create_token_response())
        issued = response.status_code == 200
    finally:
        token_rate.settle(issued)
    if issued:
        count_token_issued(request.form.get("grant_type", ""))
    return response


@oauth.post("/revoke")
@csrf.exempt
def revoke_token() -> Response:
    return _committed(current_server().create_endpoint_response("revocation"))


@oauth.post("/introspect")
@csrf.exempt
def introspect_token() -> Response:
    return _committed(current_server().create_endpoint_response("introspection"))


# Each request stores a row, and a public client can be named by anyone: a bound per
# address, so that a flood from one place cannot fill the tables (housekeeping empties them).
STORED_REQUEST_LIMIT = "120/minute"


@oauth.post("/device_authorization")
@csrf.exempt
@limiter.limit(STORED_REQUEST_LIMIT)
def device_authorization() -> Response:
    """RFC 8628 §3.1: a device code for the client, a user code for the person."""
    return _committed(current_server().create_endpoint_response("device_authorization"))


@oauth.post("/par")
@csrf.exempt
@limiter.limit(STORED_REQUEST_LIMIT)
def push_authorization_request() -> Response:
    """RFC 9126 §2: the client pushes its authorization request and gets a request_uri."""
    return _committed(current_server().create_endpoint_response("pushed_authorization"))


@oauth.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1: clients may POST the request; it carries no session change
def authorize() -> Response:
    if "request_uri" in request.values:  # RFC 9126 §4: the pushed parameters, and only them
        parked = par.resolve(request.values["request_uri"], request.values.get("client_id"))
        if isinstance(parked, Response):
            return parked
        return flow.run(parked=parked)
    return flow.run(parked=None)


@oauth.get("/authorize/resume/<pending_id>")
def resume_authorization(pending_id: str) -> Response | tuple[str, int]:
    parked = find(pending_id)
    if parked is None:
        return expired_page()
    return flow.run(parked=parked)


@oauth.post("/authorize/cancel/<pending_id>")
def cancel_authorization(pending_id: str) -> Response | tuple[str, int]:
    parked = find(pending_id)
    if parked is None:
        return expired_page()
    return flow.cancel(parked)


@oauth.post("/authorize/consent/<pending_id>")
def decide_consent(pending_id: str) -> Response | tuple[str, int]:
    parked = find(pending_id)
    if parked is None:
        return expired_page()
    return flow.decide_consent(parked, approved=request.form.get("decision") == "approve")
