"""Routes of the identity blueprint: the sign-in page and its password form."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_babel import gettext, lazy_gettext

from authserver import audit
from authserver.config import Upstream, current_settings
from authserver.errors import render_error_page, too_many_attempts_page
from authserver.extensions import db
from authserver.identity import sessions, throttle
from authserver.identity import upstream as upstream_sso
from authserver.identity.passwords import verify_password
from authserver.mfa import amr, second_step
from authserver.models import PendingAuthorization, User
from authserver.models.users import normalize_email
from authserver.oauth import freshness, pending
from authserver.oauth.freshness import Freshness

identity = Blueprint("identity", __name__)

MAX_EMAIL = 255
MAX_PASSWORD = 1024
FAILED = lazy_gettext("That email and password do not match an account.")
# Where a sign-in without a parked request may return: names, never URLs (no open redirect).
RETURN_TO = {
    "account": "account.overview",
    "security": "security.overview",
    "admin": "admin.dashboard",
    "invitation": "invitation_link.resume",
    "device": "device.enter",
}


@identity.get("/sign-in")
def sign_in() -> Response | tuple[str, int]:
    parked, problem = _parked_request()
    if problem is not None:
        return problem
    return _page(parked, email=request.args.get("login_hint", "")[:MAX_EMAIL])


@identity.post("/sign-in")
def sign_in_with_password() -> Response | tuple[str, int]:
    parked, problem = _parked_request()
    if problem is not None:
        return problem
    settings = current_settings()
    if not settings.password_login:
        return render_error_page(
            gettext("Password sign-in is off"), gettext("Use another way to sign in."), status=403
        )
    email = request.form.get("email", "").strip()[:MAX_EMAIL]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    user = User.find_by_email(email) if email else None
    guess = throttle.attempt("password", normalize_email(email), user)
    if wait := throttle.reserve(guess):
        return too_many_attempts_page(wait)
    # The same answer, and one argon2 verification, whether or not the account exists.
    verified = verify_password(user.password_hash if user else None, password)
    if user is None or not verified or not user.is_active:
        audit.record(
            "sign_in",
            outcome="failure",
            target_type="user",
            target_id=str(user.id) if user else None,
            method="pwd",
        )
        db.session.commit()
        return _page(parked, email=email, error=FAILED, status=401)
    throttle.succeeded(guess)
    return first_factor_done(
        user,
        [amr.PASSWORD],
        parked,
        method="pwd",
        return_to=_return_to(request.form.get("return_to")),
    )


def _find_upstream(provider: str) -> Upstream:
    upstream = current_app.extensions["authserver.upstreams"].get(provider)
    if upstream is None:
        abort(404)
    return upstream


@identity.get("/sign-in/<provider>")
def sign_in_upstream(provider: str) -> Response | tuple[str, int]:
    upstream = _find_upstream(provider)
    parked, problem = _parked_request()
    if problem is not None:
        return problem
    flask_session["upstream_pending"] = str(parked.id) if parked else None
    flask_session["upstream_return_to"] = _return_to(request.args.get("return_to"))
    callback = current_settings().issuer + url_for("identity.upstream_callback", provider=provider)
    try:
        return upstream_sso.redirect_to(
            current_app,
            upstream,
            callback,
            request.args.get("login_hint", "")[:MAX_EMAIL],
            _asked(parked),
        )
    except upstream_sso.UpstreamFailure as failure:
        return _upstream_failed(upstream, failure, parked)


@identity.get("/sign-in/<provider>/callback")
def upstream_callback(provider: str) -> Response | tuple[str, int]:
    upstream = _find_upstream(provider)
    parked = pending.find(flask_session.pop("upstream_pending", None) or "")
    return_to = _return_to(flask_session.pop("upstream_return_to", None))
    try:
        found = upstream_sso.finish(current_app, upstream)
        upstream_sso.check_reauthenticated(upstream, found, _asked(parked))
    except upstream_sso.UpstreamFailure as failure:
        return _upstream_failed(upstream, failure, parked)
    user, created = upstream_sso.find_or_create_user(found)
    if not user.is_active:
        failure = upstream_sso.UpstreamFailure("user_disabled", "This account is disabled.")
        return _upstream_failed(upstream, failure, parked)
    if created:
        audit.record(
            "user.created",
            actor_user_id=user.id,
            target_type="user",
            target_id=str(user.id),
            method=provider,
        )
    methods = amr.upstream_methods(provider, found.amr)
    return first_factor_done(
        user, methods, parked, method=provider, return_to=return_to, auth_time=found.auth_time
    )


def _asked(parked: PendingAuthorization | None) -> Freshness | None:
    return freshness.asked_by(parked.params, parked.created_at) if parked else None


def _upstream_failed(
    upstream: Upstream, failure: upstream_sso.UpstreamFailure, parked: PendingAuthorization | None
) -> tuple[str, int]:
    current_app.logger.info("upstream sign-in with %s failed: %s", upstream.name, failure.reason)
    audit.record("sign_in", outcome="failure", method=upstream.name, reason=failure.reason)
    db.session.commit()
    retry = (
        url_for("identity.sign_in", pending=str(parked.id))
        if parked
        else url_for("identity.sign_in")
    )
    page = render_template(
        "identity/upstream_failed.html",
        provider=upstream.display_name,
        message=failure.message,
        retry=retry,
    )
    return page, 502 if failure.reason == "provider_unreachable" else 400


def first_factor_done(
    user: User,
    methods: list[str],
    parked: PendingAuthorization | None,
    *,
    method: str,
    return_to: str | None,
    auth_time: datetime | None = None,
) -> Response:
    """The one place a first factor leads on: to the second step when one is owed, else
    to a started session (password, upstream and passkey sign-in all come here).
    `auth_time` is an upstream's own (None: now), kept across the second step."""
    if second_step.owes_second_factor(user, methods):
        return second_step.begin(
            user, methods, parked, method=method, return_to=return_to, auth_time=auth_time
        )
    return _signed_in(
        user, methods, parked, method=method, return_to=return_to, auth_time=auth_time
    )


def _signed_in(
    user: User,
    methods: list[str],
    parked: PendingAuthorization | None,
    *,
    method: str,
    return_to: str | None,
    auth_time: datetime | None = None,
) -> Response:
    """Start or refresh the session (a new token either way: no fixation) and continue."""
    settings = current_settings()
    session, raw = sessions.sign_in(user, methods, settings, auth_time)
    if parked is not None:
        parked.signed_in_session_id = session.id  # this sign-in was made for that request
    audit.record(
        "sign_in", actor_user_id=user.id, target_type="user", target_id=str(user.id), method=method
    )
    db.session.commit()
    target = (
        url_for("oauth.resume_authorization", pending_id=str(parked.id))
        if parked is not None
        else url_for(RETURN_TO.get(return_to or "", "identity.signed_in"))
    )
    response = redirect(target, code=303)
    sessions.set_cookie(response, raw, settings)
    throttle.trust_device(response, user)
    return response


# Every factor owed was given: what mfa/second_step.py calls to start the session.
finish_sign_in = _signed_in


@identity.get("/signed-in")
def signed_in() -> Response:
    person = sessions.current_person()
    return Response(render_template("identity/signed_in.html", person=person), mimetype="text/html")


def _return_to(value: str | None) -> str | None:
    """Only the names in RETURN_TO, never a URL: no open redirect."""
    return value if value in RETURN_TO else None


def _parked_request() -> tuple[PendingAuthorization | None, tuple[str, int] | None]:
    pending_id = request.values.get("pending")
    if pending_id is None:
        return None, None
    parked = pending.find(pending_id)
    if parked is None:
        return None, pending.expired_page()
    return parked, None


def _page(
    parked: PendingAuthorization | None, *, email: str, error: str | None = None, status: int = 200
) -> Response:
    page = render_template(
        "identity/sign_in.html",
        pending_id=str(parked.id) if parked else None,
        email=email,
        error=error,
        password_login=current_settings().password_login,
        upstreams=current_settings().upstreams,
        return_to=_return_to(request.values.get("return_to")),
    )
    return Response(
        page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"}
    )
