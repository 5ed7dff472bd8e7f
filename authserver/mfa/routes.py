"""Routes of the mfa blueprint: the second sign-in step, step-up, and passkey sign-in."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_limiter.util import get_remote_address

from authserver import audit, ratelimits
from authserver.config import current_settings
from authserver.errors import render_error_page, too_many_attempts_page
from authserver.extensions import db, limiter
from authserver.identity import sessions, throttle
from authserver.identity.routes import RETURN_TO, first_factor_done
from authserver.mfa import amr, recovery_codes, second_step, totp, webauthn
from authserver.models import (
    OAuthClient,
    PendingAuthorization,
    PendingSignIn,
    RecoveryCode,
    TotpSecret,
    User,
    WebAuthnCredential,
)
from authserver.oauth import pending

mfa = Blueprint("mfa", __name__, url_prefix="/sign-in")

# Wrong second-factor answers are throttled like passwords, as a step of their own
# (identity/throttle.py, SECOND_STEP); only a person who passed the first factor spends them.
# Failed passkey sign-ins are counted per address: no account is known before the passkey
# is verified.
PASSKEY_FAILURES = "20 per minute;200 per hour"
# Each options request stores a challenge row: bounded per address, like any unauthenticated write.
OPTIONS_LIMIT = "30 per minute;300 per hour"
WRONG = lazy_gettext("That code is not right, or it was already used.")
STARTED_OVER = lazy_gettext("Too many wrong answers: sign in again.")


def _started_over() -> tuple[str, int]:
    return render_error_page(
        gettext("Sign in again"), gettext("This sign-in has expired or ended."), status=400
    )


def _asking_client(record: PendingSignIn) -> OAuthClient | None:
    """The app the sign-in is for, named on the page (templates/_app.html)."""
    if record.pending_authorization_id is None:
        return None
    parked = db.session.get(PendingAuthorization, record.pending_authorization_id)
    return OAuthClient.find(parked.client_id) if parked is not None else None


def _page(record: PendingSignIn, *, error: str | None = None, status: int = 200) -> Response:
    user = record.user
    page = render_template(
        "mfa/second_step.html",
        has_totp=TotpSecret.confirmed_of(user.id) is not None,
        has_webauthn=bool(WebAuthnCredential.all_of(user.id)),
        has_recovery_codes=bool(RecoveryCode.unused_count(user.id)),
        is_step_up=record.session_id is not None,
        error=error,
        client=_asking_client(record),
    )
    return Response(
        page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"}
    )


def _refused(record: PendingSignIn, reason: str) -> Response | tuple[str, int]:
    audit.record(
        "sign_in.second_factor",
        outcome="failure",
        actor_user_id=record.user_id,
        target_type="user",
        target_id=str(record.user_id),
        reason=reason,
    )
    if second_step.count_failure(record):
        db.session.commit()
        page, status = render_error_page(gettext("Sign in again"), STARTED_OVER, status=401)
        return Response(page, status=status, mimetype="text/html")
    db.session.commit()
    return _page(record, error=WRONG, status=401)


def _passed(
    record: PendingSignIn, guess: throttle.Attempt, methods: list[str], factor: str
) -> Response:
    throttle.succeeded(guess)
    audit.record(
        "sign_in.second_factor",
        actor_user_id=record.user_id,
        target_type="user",
        target_id=str(record.user_id),
        factor=factor,
    )
    return second_step.complete(record, methods)


@mfa.get("/second-step")
def second_step_page() -> Response | tuple[str, int]:
    record = second_step.current()
    if record is None:
        return _started_over()
    return _page(record)


@mfa.post("/second-step")
def second_step_with_code() -> Response | tuple[str, int]:
    """A code from the authenticator app, or a recovery code."""
    record = second_step.current(for_update=True)
    if record is None:
        return _started_over()
    guess = throttle.attempt(throttle.SECOND_STEP, str(record.user_id), record.user)
    if wait := throttle.reserve(guess):
        return too_many_attempts_page(wait)
    user = record.user
    code = request.form.get("code", "")[:64]
    recovery = request.form.get("recovery_code", "")[:64]
    if code:
        secret = TotpSecret.confirmed_of(user.id, for_update=True)
        if secret is not None and totp.verify(secret, code):
            return _passed(record, guess, [amr.ONE_TIME_CODE], "totp")
        return _refused(record, "totp_wrong")
    if recovery and recovery_codes.use(user, recovery):
        return _passed(record, guess, [amr.ONE_TIME_CODE], "recovery_code")
    return _refused(record, "recovery_code_wrong" if recovery else "empty")


@mfa.post("/second-step/webauthn/options")
@limiter.limit(OPTIONS_LIMIT, key_func=get_remote_address)
def second_step_webauthn_options() -> Response | tuple[str, int]:
    record = second_step.current()
    if record is None:
        return _started_over()
    options = webauthn.second_factor_options(record.user, record.id, current_settings())
    db.session.commit()
    return Response(options, mimetype="application/json", headers={"Cache-Control": "no-store"})


@mfa.post("/second-step/webauthn")
def second_step_with_webauthn() -> Response | tuple[str, int]:
    record = second_step.current(for_update=True)
    if record is None:
        return _started_over()
    guess = throttle.attempt(throttle.SECOND_STEP, str(record.user_id), record.user)
    if wait := throttle.reserve(guess):
        return too_many_attempts_page(wait)
    try:
        assertion = webauthn.authenticate(
            request.form.get("credential", ""),
            webauthn.SECOND_FACTOR,
            current_settings(),
            sign_in_id=record.id,
            user_id=record.user_id,
        )
    except webauthn.WebAuthnRefused as refused:
        return _refused(record, refused.reason)
    methods = amr.webauthn_methods(
        is_synced=assertion.credential.is_synced, user_verified=assertion.user_verified
    )
    return _passed(record, guess, methods, "webauthn")


@mfa.get("/step-up")
def step_up() -> Response | tuple[str, int]:
    """/authorize asked for a second factor this session lacks: the second step only."""
    parked = pending.find(request.args.get("pending", ""))
    if parked is None:
        return pending.expired_page()
    session = sessions.current()
    if session is None:
        return redirect(url_for("identity.sign_in", pending=str(parked.id)), code=303)
    if not second_step.has_own_factor(session.user):
        # Nothing to ask for yet: the person sets a factor up, then comes back here.
        return redirect(url_for("security.overview", pending=str(parked.id)), code=303)
    return second_step.begin(
        session.user,
        list(session.auth_methods),
        parked,
        method="step_up",
        return_to=None,
        session=session,
    )


@mfa.post("/passkey/options")
@limiter.limit(OPTIONS_LIMIT, key_func=get_remote_address)
def passkey_options() -> Response:
    options = webauthn.passkey_options(current_settings())
    db.session.commit()
    return Response(options, mimetype="application/json", headers={"Cache-Control": "no-store"})


@mfa.post("/passkey")
def sign_in_with_passkey() -> Response | tuple[str, int]:
    """A discoverable credential alone: the authenticator names the person (user handle)
    and its user verification is the second factor (amr.passkey_methods)."""
    parked = None
    if request.form.get("pending"):
        parked = pending.find(request.form["pending"])
        if parked is None:
            return pending.expired_page()
    address = ("passkey-failure", get_remote_address())
    if wait := ratelimits.reserve(PASSKEY_FAILURES, *address):  # a failure until verified
        return too_many_attempts_page(wait)
    try:
        assertion = webauthn.authenticate(
            request.form.get("credential", ""), webauthn.PASSKEY, current_settings()
        )
    except webauthn.WebAuthnRefused as refused:
        audit.record("sign_in", outcome="failure", method="passkey", reason=refused.reason)
        db.session.commit()
        page, status = render_error_page(
            gettext("That passkey did not work"),
            gettext("Try again, or sign in another way."),
            status=401,
        )
        return Response(page, status=status, mimetype="text/html")
    ratelimits.release(PASSKEY_FAILURES, *address)
    user: User = assertion.credential.user
    if not user.is_active:
        audit.record("sign_in", outcome="failure", method="passkey", reason="user_disabled")
        db.session.commit()
        page, status = render_error_page(
            gettext("This account is disabled"),
            gettext("Ask an administrator of your organization to enable it."),
            status=403,
        )
        return Response(page, status=status, mimetype="text/html")
    methods = amr.passkey_methods(is_synced=assertion.credential.is_synced)
    return_to = request.form.get("return_to")
    return_to = return_to if return_to in RETURN_TO else None  # names, never URLs
    return first_factor_done(user, methods, parked, method="passkey", return_to=return_to)
