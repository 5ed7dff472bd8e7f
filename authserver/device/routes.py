"""Routes of the device blueprint: /device, where a signed-in person types the user code a
device shows, sees which app asks for what, and approves or denies (RFC 8628 §3.3)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import gettext, lazy_gettext

from authserver import audit, ratelimits
from authserver.clock import utcnow
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.models import Consent, DeviceAuthorization, Session
from authserver.oauth.scopes import SCOPES
from authserver.oauth.user_codes import MAX_TYPED, normalize_user_code

device = Blueprint("device", __name__)

# Wrong codes a person may type. Counted per signed-in person, after sign-in: a stranger
# guessing spends their own allowance, never the one of the person whose code it is, and a
# code itself is never locked (RFC 8628 §5.1 asks for a bound on guessing).
GUESS_LIMIT = "5 per minute;20 per hour"
WRONG_CODE = lazy_gettext("That code is not valid. Check the code on your device and try again.")
# The code from verification_uri_complete survives the sign-in detour in the Flask session.
CARRIED_CODE = "device_user_code"
# The request the person typed the code of: only that one may be decided in this browser.
ENTERED = "device_authorization"


def _page(template: str, status: int = 200, **context: object) -> Response:
    return Response(
        render_template(template, **context),
        status=status,
        mimetype="text/html",
        headers={"Cache-Control": "no-store"},
    )


def _sign_in_first(typed: str) -> Response:
    if typed:
        flask_session[CARRIED_CODE] = typed[:MAX_TYPED]
    return redirect(url_for("identity.sign_in", return_to="device"), code=302)


@device.get("/device")
def enter() -> Response:
    typed = request.args.get("user_code", "")[:MAX_TYPED]
    session = sessions.current()
    if session is None:
        return _sign_in_first(typed)
    typed = typed or flask_session.pop(CARRIED_CODE, "")
    return _page("device/enter.html", person=session.user, user_code=typed)


@device.post("/device")
def submit_code() -> Response:
    session = sessions.current()
    typed = request.form.get("user_code", "")[:MAX_TYPED]
    if session is None:
        return _sign_in_first(typed)
    key = ("device-code-guess", str(session.user_id))
    wait = ratelimits.reserve(GUESS_LIMIT, *key)  # a failure until the code is found
    if wait:
        page, status = render_error_page(
            gettext("Too many attempts"),
            gettext("Wait a while, then type the code again."),
            status=429,
        )
        return Response(page, status=status, headers={"Retry-After": str(wait)})
    code = normalize_user_code(typed)
    found = DeviceAuthorization.find_undecided(code) if code else None
    if found is None:
        audit.record("device.wrong_code", outcome="failure", actor_user_id=session.user_id)
        db.session.commit()
        return _page(
            "device/enter.html", status=400, person=session.user, user_code="", error=WRONG_CODE
        )
    ratelimits.release(GUESS_LIMIT, *key)
    flask_session[ENTERED] = str(found.id)
    return _confirm_page(found, session)


def _confirm_page(found: DeviceAuthorization, session: Session) -> Response:
    """RFC 8628 §5.4: always ask, naming the app and what it would get, even for a client
    the person approved before: a device code may have been sent by someone else."""
    scopes = set(found.scope.split())
    return _page(
        "device/confirm.html",
        client=found.client,
        person=session.user,
        scopes=[(scope, words) for scope, words in SCOPES.items() if scope in scopes],
    )


@device.post("/device/decide")
def decide() -> Response:
    session = sessions.current()
    if session is None:
        return _sign_in_first("")
    found = _entered_request()
    if found is None:
        page, status = render_error_page(
            gettext("This code has expired or was already used"),
            gettext("Start again on your device to get a new code."),
            status=400,
        )
        return Response(page, status=status, mimetype="text/html")
    approved = request.form.get("decision") == "approve"
    _record_decision(found, session, approved)
    db.session.commit()
    return _page("device/done.html", approved=approved, client=found.client)


def _entered_request() -> DeviceAuthorization | None:
    try:
        entered = uuid.UUID(flask_session.pop(ENTERED, ""))
    except ValueError:
        return None
    found = db.session.get(DeviceAuthorization, entered, with_for_update=True)
    if found is None or found.approved is not None or found.is_expired():
        return None
    return found


def _record_decision(found: DeviceAuthorization, session: Session, approved: bool) -> None:
    found.approved, found.decided_at = approved, utcnow()
    found.user_id, found.session_id = session.user_id, session.id
    found.auth_time, found.auth_methods = session.auth_time, list(session.auth_methods)
    if approved:
        Consent.remember(session.user_id, found.client_id, set(found.scope.split()))
    audit.record(
        "consent.granted" if approved else "consent.denied",
        actor_user_id=session.user_id,
        target_type="client",
        target_id=found.client.client_id,
        grant="device_code",
        scopes=sorted(found.scope.split()),
    )
