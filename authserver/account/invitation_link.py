"""Routes of the invitation_link blueprint: the page an invitation mail links to.

An existing person signs in and accepts; a new person signs up (or signs in upstream) with
the invited address, then accepts; a person signed in with another address is refused.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for
from flask import session as flask_session
from flask_babel import gettext, lazy_gettext

from authserver import audit
from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.identity.forms import page
from authserver.models import Invitation
from authserver.orgs import invitations
from authserver.orgs.service import OrgError

invitation_link = Blueprint("invitation_link", __name__)

# The link's token, kept in Flask's signed session cookie while the person signs in or up.
SESSION_KEY = "invitation_token"


def _usable(invitation: Invitation | None) -> bool:
    return (
        invitation is not None
        and invitation.state == "pending"
        and invitation.expires_at > utcnow()
    )


def in_session() -> Invitation | None:
    """The usable invitation whose link this browser opened, if any."""
    invitation = invitations.find_by_token(flask_session.get(SESSION_KEY) or "")
    return invitation if _usable(invitation) else None


def _unusable(invitation: Invitation | None) -> tuple[str, int]:
    flask_session.pop(SESSION_KEY, None)
    if invitation is None:
        return render_error_page(
            gettext("Invitation not found"),
            gettext("The link is incomplete or wrong. Ask for a new one."),
            status=404,
        )
    state = "expired" if invitation.state == "pending" else invitation.state
    return render_error_page(
        str(INVITATION_STATES.get(state, INVITATION_STATES["expired"])),
        gettext("Ask the person who invited you to send a new invitation."),
        status=410,
    )


INVITATION_STATES = {
    "expired": lazy_gettext("This invitation has expired"),
    "accepted": lazy_gettext("This invitation was accepted already"),
    "declined": lazy_gettext("This invitation was declined"),
    "revoked": lazy_gettext("This invitation was withdrawn"),
}


@invitation_link.get("/invitations/<token>")
def show(token: str) -> Response | tuple[str, int]:
    invitation = invitations.find_by_token(token)
    if not _usable(invitation):
        return _unusable(invitation)
    flask_session[SESSION_KEY] = token
    person = sessions.current_person()
    if person is not None and person.email != invitation.email:
        return page(
            "account/invitation_refused.html", invitation=invitation, person=person, status=403
        )
    settings = current_settings()
    return page(
        "account/invitation.html",
        invitation=invitation,
        person=person,
        token=token,
        upstreams=settings.upstreams,
        password_login=settings.password_login,
    )


@invitation_link.get("/invitations/continue")
def resume() -> Response:
    """Where sign-in returns (RETURN_TO "invitation"): back to the link's page."""
    token = flask_session.get(SESSION_KEY)
    if not token:
        return redirect(url_for("account.overview"), code=303)
    return redirect(url_for("invitation_link.show", token=token), code=303)


@invitation_link.post("/invitations/<token>/<answer>")
def answer(token: str, answer: str) -> Response | tuple[str, int]:
    if answer not in ("accept", "decline"):
        return render_error_page(
            gettext("Unknown answer"), gettext("Accept or decline."), status=404
        )
    session = sessions.current()
    if session is None:
        return redirect(url_for("invitation_link.show", token=token), code=303)
    invitation = invitations.find_by_token(token)
    if not _usable(invitation):
        return _unusable(invitation)
    person = session.user
    if person.email != invitation.email:
        return page(
            "account/invitation_refused.html", invitation=invitation, person=person, status=403
        )
    # The link was mailed to this address and the person holds it: the address is theirs.
    person.email_verified = True
    try:
        invitations.respond(person, str(invitation.id), accept=answer == "accept")
    except OrgError as error:
        db.session.commit()
        return render_error_page(
            gettext("This invitation cannot be answered"),
            gettext("It may have expired, or been answered or withdrawn already."),
            status=error.status,
        )
    audit.record(
        f"invitation.{invitation.state}",
        actor_user_id=person.id,
        organization_id=invitation.organization_id,
        target_type="invitation",
        target_id=str(invitation.id),
        via="link",
    )
    db.session.commit()
    flask_session.pop(SESSION_KEY, None)
    return redirect(url_for("account.overview", done=invitation.state), code=303)
