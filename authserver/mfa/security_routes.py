"""Routes of the security blueprint: the person's own factors on /account/security."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext

from authserver import audit
from authserver.config import current_settings
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.mfa import amr, policy, recovery_codes, second_step, totp, webauthn
from authserver.models import (
    PendingAuthorization,
    RecoveryCode,
    Session,
    TotpSecret,
    WebAuthnCredential,
)
from authserver.oauth import pending

security = Blueprint("security", __name__, url_prefix="/account/security")


def _html(page: str, status: int = 200) -> Response:
    return Response(
        page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"}
    )


def _error(title: str, detail: str, status: int) -> Response:
    page, status = render_error_page(title, detail, status=status)
    return _html(page, status)


def _signed_in() -> Session | Response:
    session = sessions.current()
    if session is None:
        return redirect(url_for("identity.sign_in", return_to="security"), code=303)
    return session


def _signed_in_to_add() -> Session | Response:
    """The session, when it may add a factor (policy.may_add_factor); else the answer."""
    session = _signed_in()
    if isinstance(session, Response):
        return session
    return _adding_refused(session) or session


def _parked() -> PendingAuthorization | None:
    """The /authorize request a step-up sent the person here from, to return to."""
    return pending.find(request.values.get("pending", ""))


def _audit(event: str, session: Session, **details: object) -> None:
    audit.record(
        event,
        actor_user_id=session.user_id,
        target_type="user",
        target_id=str(session.user_id),
        **details,
    )


@security.get("")
def overview() -> Response:
    session = _signed_in()
    if isinstance(session, Response):
        return session
    parked = _parked()
    page = render_template(
        "mfa/security.html",
        person=session.user,
        totp=TotpSecret.confirmed_of(session.user_id),
        credentials=WebAuthnCredential.all_of(session.user_id),
        recovery_left=RecoveryCode.unused_count(session.user_id),
        removal_refusal=policy.removal_refusal(session),
        may_add=policy.may_add_factor(session),
        pending_id=str(parked.id) if parked else None,
    )
    db.session.commit()
    return _html(page)


def _adding_refused(session: Session) -> Response | None:
    if policy.may_add_factor(session):
        return None
    return _error(
        gettext("Sign in with your second factor first"),
        gettext("Adding another factor needs a sign-in that used one you already have."),
        403,
    )


@security.post("/totp")
def start_totp() -> Response:
    session = _signed_in_to_add()
    if isinstance(session, Response):
        return session
    try:
        secret = totp.start_enrolment(session.user)
    except ValueError:
        return _error(
            gettext("An authenticator app is already set up"), gettext("Remove it first."), 409
        )
    db.session.commit()
    return _totp_page(session, secret)


def _totp_page(session: Session, secret: TotpSecret, error: str | None = None) -> Response:
    raw = totp.raw_secret(secret)
    if raw is None:
        return _error(
            gettext("Start setting up the app again"),
            gettext("This setup can no longer be read."),
            409,
        )
    uri = totp.provisioning_uri(raw, session.user, current_settings().issuer)
    parked = _parked()
    page = render_template(
        "mfa/totp_setup.html",
        qr_svg=totp.qr_svg(uri),
        secret=raw,
        error=error,
        pending_id=str(parked.id) if parked else None,
    )
    return _html(page, 401 if error else 200)


@security.post("/totp/confirm")
def confirm_totp() -> Response:
    session = _signed_in()
    if isinstance(session, Response):
        return session
    secret = TotpSecret.of(session.user_id, for_update=True)
    if secret is None or secret.confirmed_at is not None:
        return _error(
            gettext("Nothing to confirm"), gettext("Start setting up the app again."), 409
        )
    if not totp.confirm(secret, request.form.get("code", "")[:64]):
        db.session.commit()
        return _totp_page(
            session, secret, error=gettext("That code is not right. Try the newest one.")
        )
    _audit("mfa.totp_added", session)
    return _enrolled(session, [amr.ONE_TIME_CODE])


def _enrolled(session: Session, methods: list[str]) -> Response:
    """A factor was just proven by its owner. When it is the first one, this session has
    now used it (an org policy or a step-up is met without signing in again), and the
    recovery codes are made and shown once."""
    is_first = policy.factor_count(session.user_id) == 1
    raw = second_step.upgrade_session(session, methods) if is_first else None
    codes = (
        recovery_codes.regenerate(session.user)
        if not RecoveryCode.unused_count(session.user_id)
        else []
    )
    db.session.commit()
    response = _after_change(codes)
    if raw is not None:
        sessions.set_cookie(response, raw, current_settings())
    return response


def _after_change(codes: list[str]) -> Response:
    parked = _parked()
    onward = (
        url_for("oauth.resume_authorization", pending_id=str(parked.id))
        if parked
        else url_for("security.overview")
    )
    if not codes:
        return redirect(onward, code=303)
    return _html(render_template("mfa/recovery_codes.html", codes=codes, onward=onward))


@security.post("/webauthn/options")
def webauthn_options() -> Response:
    session = _signed_in_to_add()
    if isinstance(session, Response):
        return session
    options = webauthn.registration_options(session.user, current_settings())
    db.session.commit()
    return Response(options, mimetype="application/json", headers={"Cache-Control": "no-store"})


@security.post("/webauthn")
def register_webauthn() -> Response:
    session = _signed_in_to_add()
    if isinstance(session, Response):
        return session
    try:
        registered = webauthn.register(
            session.user,
            request.form.get("credential", ""),
            request.form.get("name", "")[:200],
            current_settings(),
        )
    except webauthn.WebAuthnRefused as refused_ceremony:
        _audit("mfa.webauthn_refused", session, reason=refused_ceremony.reason)
        db.session.commit()
        return _error(gettext("That key could not be added"), gettext("Try again."), 400)
    credential = registered.credential
    _audit("mfa.webauthn_added", session, credential=str(credential.id), name=credential.name)
    methods = amr.webauthn_methods(
        is_synced=credential.is_synced, user_verified=registered.user_verified
    )
    return _enrolled(session, methods)


@security.post("/recovery-codes")
def regenerate_recovery_codes() -> Response:
    session = _signed_in()
    if isinstance(session, Response):
        return session
    if not policy.is_recent_multi_factor(session):
        return _error(gettext("Sign in again"), policy.RECENT_REFUSAL, 403)
    codes = recovery_codes.regenerate(session.user)
    _audit("mfa.recovery_codes_regenerated", session)
    db.session.commit()
    return _after_change(codes)


def _removal_refused(session: Session) -> Response | None:
    reason = policy.removal_refusal(session)
    return (
        None
        if reason is None
        else _error(gettext("This factor cannot be removed now"), reason, 403)
    )


@security.post("/totp/remove")
def remove_totp() -> Response:
    session = _signed_in()
    if isinstance(session, Response):
        return session
    secret = TotpSecret.confirmed_of(session.user_id, for_update=True)
    if secret is None:
        return _error(gettext("No authenticator app is set up"), gettext(""), 404)
    refused = _removal_refused(session)
    if refused is not None:
        return refused
    db.session.delete(secret)
    _audit("mfa.totp_removed", session)
    _forget_codes_without_factors(session)
    db.session.commit()
    return redirect(url_for("security.overview"), code=303)


@security.post("/webauthn/<credential_id>/remove")
def remove_webauthn(credential_id: str) -> Response:
    session = _signed_in()
    if isinstance(session, Response):
        return session
    credential = next(
        (c for c in WebAuthnCredential.all_of(session.user_id) if str(c.id) == credential_id),
        None,
    )
    if credential is None:  # someone else's key looks exactly like a missing one
        return _error(gettext("Key not found"), gettext("It may have been removed already."), 404)
    refused = _removal_refused(session)
    if refused is not None:
        return refused
    db.session.delete(credential)
    _audit("mfa.webauthn_removed", session, credential=credential_id)
    _forget_codes_without_factors(session)
    db.session.commit()
    return redirect(url_for("security.overview"), code=303)


def _forget_codes_without_factors(session: Session) -> None:
    """Recovery codes stand in for a factor; with none left there is nothing to recover."""
    db.session.flush()
    if policy.factor_count(session.user_id) == 0:
        RecoveryCode.remove_all(session.user_id)
