"""The second sign-in step: where "first factor done" becomes a session or a factor owed.

A person who owes a second factor gets a short-lived server-side record (PendingSignIn)
of who they are, what they proved and where to return; the browser holds only a random
cookie value whose SHA-256 finds it. A step-up records the session it will upgrade.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Response, redirect, request, url_for

from authserver import audit
from authserver.clock import utcnow
from authserver.config import Settings, current_settings
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.identity import sessions
from authserver.mfa import amr
from authserver.models import (
    PendingAuthorization,
    PendingSignIn,
    Session,
    TotpSecret,
    User,
    WebAuthnCredential,
)

# Long enough to find the phone or the key; short enough that a half-signed-in record is
# not a standing credential.
SECOND_STEP_TTL = timedelta(minutes=5)
# Wrong codes one half-finished sign-in may try before the first factor is asked again.
MAX_ATTEMPTS = 5


def cookie_name(settings: Settings) -> str:
    return settings.session_cookie_name + "_second_step"


def has_own_factor(user: User) -> bool:
    """A confirmed authenticator app or a registered WebAuthn credential (recovery codes
    are a way back in, not a factor of their own)."""
    if TotpSecret.confirmed_of(user.id) is not None:
        return True
    return bool(WebAuthnCredential.all_of(user.id))


def had_factor_before(user: User, when: datetime) -> bool:
    """A factor of ours set up no later than `when`: one the person could have used at a
    sign-in made then (one set up later only upgraded that session)."""
    totp = TotpSecret.confirmed_of(user.id)
    if totp is not None and totp.confirmed_at <= when:
        return True
    return any(key.created_at <= when for key in WebAuthnCredential.all_of(user.id))


def owes_second_factor(user: User, methods: list[str]) -> bool:
    """At sign-in: the person enrolled a factor of ours and the first one was single."""
    return amr.owes_second_factor(methods, has_own_factor=has_own_factor(user))


def begin(
    user: User,
    methods: list[str],
    parked: PendingAuthorization | None,
    *,
    method: str,
    return_to: str | None,
    session: Session | None = None,
    auth_time: datetime | None = None,
) -> Response:
    """Record the half-finished sign-in and send the browser to the second step.
    `auth_time` is the first factor's own when an upstream gave it (the session's then)."""
    settings, raw, now = current_settings(), new_secret(), utcnow()
    db.session.add(
        PendingSignIn(
            token_hash=sha256_hex(raw),
            user_id=user.id,
            session_id=session.id if session else None,
            methods=list(methods),
            method=method,
            pending_authorization_id=parked.id if parked else None,
            return_to=return_to,
            auth_time=auth_time,
            created_at=now,
            expires_at=now + SECOND_STEP_TTL,
        )
    )
    db.session.commit()
    response = redirect(url_for("mfa.second_step_page"), code=303)
    response.set_cookie(
        cookie_name(settings),
        raw,
        max_age=int(SECOND_STEP_TTL.total_seconds()),
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return response


def current(*, for_update: bool = False) -> PendingSignIn | None:
    """The live half-finished sign-in of this browser, if any."""
    raw = request.cookies.get(cookie_name(current_settings()))
    if not raw or len(raw) > 100:
        return None
    record = PendingSignIn.find_live(raw, for_update=for_update)
    if record is None or not record.user.is_active:
        return None
    if record.session_id is not None and _live_session(record) is None:
        return None  # the session to step up ended meanwhile
    return record


def _live_session(record: PendingSignIn) -> Session | None:
    session = sessions.current()
    return session if session is not None and session.id == record.session_id else None


def count_failure(record: PendingSignIn) -> bool:
    """One more wrong answer; True when the record is used up (the first factor again)."""
    record.failed_attempts += 1
    if record.failed_attempts >= MAX_ATTEMPTS:
        db.session.delete(record)
        return True
    return False


def complete(record: PendingSignIn, added: list[str]) -> Response:
    """The second factor was given: start the session (or upgrade the stepped-up one) with
    both factors' methods, and continue where the person was going."""
    from authserver.identity.routes import finish_sign_in  # identity imports this module

    methods = amr.with_second_factor(record.methods, added)
    parked = (
        db.session.get(PendingAuthorization, record.pending_authorization_id)
        if record.pending_authorization_id
        else None
    )
    user, method, return_to, auth_time = (
        record.user,
        record.method,
        record.return_to,
        record.auth_time,
    )
    session = _live_session(record) if record.session_id else None
    db.session.delete(record)
    if session is not None:
        response = _stepped_up(session, added, parked)
    else:
        response = finish_sign_in(
            user, methods, parked, method=method, return_to=return_to, auth_time=auth_time
        )
    response.delete_cookie(
        cookie_name(current_settings()), path="/", secure=current_settings().cookie_secure
    )
    return response


def upgrade_session(session: Session, added: list[str]) -> str:
    """Add a second factor to a live session under a new cookie token: the privilege grew,
    so a token planted earlier must not inherit it (OWASP session fixation). Returns the
    raw token; the caller commits and sets the cookie."""
    raw = new_secret()
    session.auth_methods = amr.with_second_factor(session.auth_methods, added)
    session.token_hash = sha256_hex(raw)
    db.session.flush()
    return raw


def _stepped_up(
    session: Session, added: list[str], parked: PendingAuthorization | None
) -> Response:
    raw = upgrade_session(session, added)
    audit.record(
        "sign_in.step_up",
        actor_user_id=session.user_id,
        target_type="session",
        target_id=str(session.id),
        methods=session.auth_methods,
    )
    db.session.commit()
    target = (
        url_for("oauth.resume_authorization", pending_id=str(parked.id))
        if parked is not None
        else url_for("security.overview")
    )
    response = redirect(target, code=303)
    sessions.set_cookie(response, raw, current_settings())
    return response
