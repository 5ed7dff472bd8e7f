"""Routes of the account blueprint: the overview page and its actions (all POST + CSRF)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from authserver import audit
from authserver.account import queries
from authserver.config import current_settings
from authserver.credentials import api_keys
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.oauth.families import RevocationReason
from authserver.oauth.scopes import SCOPES
from authserver.orgs import invitations
from authserver.orgs.service import OrgError

account = Blueprint("account", __name__, url_prefix="/account")


# What the account page confirms after an action (?done=<key>); any other value shows nothing.
NOTICES = {
    "signed-out-there": lazy_gettext("That session is signed out."),
    "disconnected": lazy_gettext("The app is disconnected: it can no longer use your account."),
    "accepted": lazy_gettext("You joined the organization."),
    "declined": lazy_gettext("You declined the invitation."),
}


def _sign_in_first() -> Response:
    return redirect(url_for("identity.sign_in", return_to="account"), code=303)


@account.get("")
def overview() -> Response:
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    page = render_template(
        "account/overview.html",
        person=session.user,
        current_session_id=session.id,
        data=queries.overview(session.user),
        notice=NOTICES.get(request.args.get("done", "")),
        scope_words=SCOPES,
    )
    db.session.commit()  # the session's last use may have moved
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


@account.post("/sessions/<session_id>/end")
def end_session(session_id: str) -> Response | tuple[str, int]:
    current = sessions.current()
    if current is None:
        return _sign_in_first()
    target = queries.find_own_session(current.user, session_id)
    if target is None:  # someone else's session looks exactly like a missing one
        return render_error_page(
            gettext("Session not found"), gettext("It may have ended already."), status=404
        )
    is_current = target.id == current.id
    sessions.end(target, reason=RevocationReason.USER_ENDED)
    db.session.commit()
    if is_current:
        response = redirect(url_for("identity.sign_in"), code=303)
        sessions.clear_cookie(response, current_settings())
        return response
    return redirect(url_for("account.overview", done="signed-out-there"), code=303)


@account.post("/apps/<client_id>/disconnect")
def disconnect_app(client_id: str) -> Response | tuple[str, int]:
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    client = queries.disconnect_app(session.user, client_id)
    if client is None:
        return render_error_page(
            gettext("App not found"), gettext("It may have been disconnected already."), status=404
        )
    audit.record(
        "consent.revoked",
        actor_user_id=session.user_id,
        actor_client_id=client.client_id,
        target_type="client",
        target_id=client.client_id,
    )
    db.session.commit()
    return redirect(url_for("account.overview", done="disconnected"), code=303)


@account.post("/invitations/<invitation_id>/<answer>")
def answer_invitation(invitation_id: str, answer: str) -> Response | tuple[str, int]:
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    if answer not in ("accept", "decline"):
        return render_error_page(
            gettext("Unknown answer"), gettext("Accept or decline."), status=404
        )
    try:
        invitation = invitations.respond(session.user, invitation_id, accept=answer == "accept")
    except OrgError as error:
        db.session.commit()  # an expired invitation is marked so
        return render_error_page(
            gettext("This invitation cannot be answered"),
            gettext("It may have expired, or been answered or withdrawn already."),
            status=error.status,
        )
    audit.record(
        f"invitation.{invitation.state}",
        actor_user_id=session.user_id,
        organization_id=invitation.organization_id,
        target_type="invitation",
        target_id=invitation_id,
    )
    db.session.commit()
    return redirect(url_for("account.overview", done=invitation.state), code=303)


@account.post("/api-keys")
def create_api_key() -> Response | tuple[str, int]:
    """A personal API key for scripts, shown on the next page once (only its hash is kept)."""
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    try:
        key, raw = api_keys.create_personal(session.user, request.form.get("name"), None, None)
    except OrgError as error:
        db.session.rollback()
        return render_error_page(
            gettext("The key was not made"), error.localized(), status=error.status
        )
    audit.record(
        "api_key.created",
        actor_user_id=session.user_id,
        target_type="api_key",
        target_id=str(key.id),
    )
    page = render_template("account/api_key_created.html", key=key, raw=raw)
    db.session.commit()
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


@account.post("/api-keys/<key_id>/revoke")
def revoke_api_key(key_id: str) -> Response | tuple[str, int]:
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    try:
        key = api_keys.revoke_personal(session.user, key_id)
    except OrgError as error:
        db.session.rollback()
        return render_error_page(gettext("Key not found"), error.localized(), status=error.status)
    audit.record(
        "api_key.revoked",
        actor_user_id=session.user_id,
        target_type="api_key",
        target_id=str(key.id),
    )
    db.session.commit()
    return redirect(url_for("account.overview"), code=303)
