"""Routes of the flows blueprint: sign-up, forgotten password, and the links we mail.

A link's GET only shows a form (mail scanners open links); its POST uses the token.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, url_for
from flask_babel import gettext
from flask_limiter.util import get_remote_address

from authserver import audit
from authserver.account import invitation_link
from authserver.config import current_settings
from authserver.errors import render_error_page
from authserver.extensions import db, limiter
from authserver.identity import (
    addresses,
    recovery,
    sessions,
    signup,
    throttle,
    timing,
    verification,
)
from authserver.identity.forms import (
    MAX_EMAIL,
    MAX_NAME,
    form_password,
    form_text,
    is_display_name,
    is_email,
    page,
)
from authserver.identity.passwords import MAX_LENGTH, MIN_LENGTH, PasswordPolicyError, check_policy
from authserver.mail.limits import PER_IP
from authserver.mfa.policy import factor_count
from authserver.models import User

flows = Blueprint("flows", __name__)


def link_invalid(again: str, again_label: str) -> Response:
    """Unknown, expired or used: one friendly page, with the way to ask for a new link."""
    return page("identity/link_invalid.html", again=again, again_label=again_label, status=400)


def is_reset_open() -> bool:
    settings = current_settings()
    return settings.password_login and settings.mail_enabled


def is_signup_allowed(invitation: object) -> bool:
    """Open to all (or some domains), or opened by the invitation whose link was followed."""
    settings = current_settings()
    return settings.password_login and (invitation is not None or signup.is_open(settings))


@flows.app_context_processor
def _mail_flags() -> dict[str, bool]:
    return {
        "signup_open": signup.is_open(current_settings()),
        "password_reset_open": is_reset_open(),
    }


# ---- sign-up -------------------------------------------------------------------------------


@flows.get("/sign-up")
def sign_up_form() -> Response | tuple[str, int]:
    invitation = invitation_link.in_session()
    if not is_signup_allowed(invitation):
        return _signup_closed()
    return page("identity/sign_up.html", invitation=invitation, email="", name="")


def _signup_closed() -> tuple[str, int]:
    return render_error_page(
        gettext("Sign-up is closed"),
        gettext("Ask an administrator of your organization for an invitation."),
        status=404,
    )


@flows.post("/sign-up")
@limiter.limit(PER_IP, key_func=get_remote_address)
def sign_up() -> Response | tuple[str, int]:
    invitation = invitation_link.in_session()
    email = invitation.email if invitation else form_text("email", MAX_EMAIL).lower()
    name, password = form_text("name", MAX_NAME), form_password("password")
    if not is_signup_allowed(invitation):
        return _signup_closed()
    error = _signup_error(email, name, password)
    if error is None and invitation is None and not signup.is_open(current_settings(), email):
        error = gettext(
            "Sign-up is open only to some email domains, and this address is not in one."
        )
    if error is not None:
        context = {"invitation": invitation, "email": email, "name": name, "error": error}
        return page("identity/sign_up.html", status=400, **context)
    if invitation is not None:  # the address is the invitation's: nothing to hide
        user = signup.sign_up(email, name, password, invitation=invitation)
        if user is not None and user.email_verified:
            return _signed_in_to_invitation(user)
        db.session.commit()
        return page("identity/mail_sent.html", email=email, why="sign_up")
    # A taken address mails its owner instead: the same page, and no timing tells.
    with timing.at_least(timing.SIGN_UP_FLOOR_SECONDS):
        signup.sign_up(email, name, password, invitation=None)
        db.session.commit()
    return page("identity/mail_sent.html", email=email, why="sign_up")


def _signup_error(email: str, name: str, password: str) -> str | None:
    if not is_email(email):
        return gettext("Enter an email address such as ada@example.com.")
    if not is_display_name(name):
        return gettext("Enter your name (at most %(count)d characters).", count=MAX_NAME)
    try:
        check_policy(password)
    except PasswordPolicyError:
        return password_rule()
    return None


def password_rule() -> str:
    """What a refused new password must be, in the page's language (passwords.py's policy)."""
    return gettext(
        "The password must be %(minimum)d to %(maximum)d characters long.",
        minimum=MIN_LENGTH,
        maximum=MAX_LENGTH,
    )


def _signed_in_to_invitation(user: User) -> Response:
    """A new person who signed up from an invitation link is signed in and sent back to it.
    By the sign-in rule every sign-in follows: the account is new, so a session this browser
    had was another person's, and it ends as `new_sign_in`."""
    settings = current_settings()
    _, raw = sessions.sign_in(user, ["pwd"], settings)
    audit.record(
        "sign_in", actor_user_id=user.id, target_type="user", target_id=str(user.id), method="pwd"
    )
    db.session.commit()
    response = Response(status=303, headers={"Location": url_for("invitation_link.resume")})
    sessions.set_cookie(response, raw, settings)
    return response


# ---- forgotten password --------------------------------------------------------------------


@flows.get("/forgot-password")
def forgot_password_form() -> Response | tuple[str, int]:
    if not is_reset_open():
        return _reset_unavailable()
    return page("identity/forgot_password.html", email=request.args.get("email", "")[:MAX_EMAIL])


def _reset_unavailable() -> tuple[str, int]:
    return render_error_page(
        gettext("Password reset is unavailable"),
        gettext("Ask your administrator for help."),
        status=404,
    )


@flows.post("/forgot-password")
@limiter.limit(PER_IP, key_func=get_remote_address)
def forgot_password() -> Response | tuple[str, int]:
    if not is_reset_open():
        return _reset_unavailable()
    email = form_text("email", MAX_EMAIL).lower()
    if not is_email(email):
        context = {
            "email": email,
            "error": gettext("Enter an email address such as ada@example.com."),
        }
        return page("identity/forgot_password.html", status=400, **context)
    with timing.at_least(timing.RESET_FLOOR_SECONDS):  # no timing tells either
        recovery.request_reset(email)
        db.session.commit()
    # The same page whether or not the address has an account.
    return page("identity/mail_sent.html", email=email, why="reset")


@flows.get("/reset-password/<token>")
def reset_password_form(token: str) -> Response:
    if verification.peek(token, recovery.RESET) is None:
        return link_invalid(url_for("flows.forgot_password_form"), gettext("Ask for a new link"))
    return page("identity/reset_password.html", token=token)


@flows.post("/reset-password/<token>")
@limiter.limit(PER_IP, key_func=get_remote_address)
def reset_password(token: str) -> Response:
    password = form_password("password")
    try:
        check_policy(password)
    except PasswordPolicyError:
        context = {"token": token, "error": password_rule()}
        return page("identity/reset_password.html", status=400, **context)
    user = recovery.reset(token, password)
    if user is None:
        db.session.commit()  # a stale link is used up all the same
        return link_invalid(url_for("flows.forgot_password_form"), gettext("Ask for a new link"))
    db.session.commit()
    response = page(
        "identity/done.html",
        title=gettext("Password changed"),
        email=user.email,
        detail=gettext("You are signed out everywhere. Sign in with the new password."),
    )
    sessions.clear_cookie(response, current_settings())
    # Whoever holds the mailbox and chose the password is as proved as by a password
    # sign-in: this browser keeps an allowance of its own, which a stranger's guesses
    # cannot spend. Not when the person has a second factor: the mailbox does not prove
    # it, and a device cookie has an allowance at the second step too.
    if factor_count(user.id) == 0:
        throttle.trust_device(response, user)
    return response


# ---- email links ---------------------------------------------------------------------------


@flows.get("/verify-email/<token>")
def verify_email_form(token: str) -> Response:
    found = verification.peek(token, addresses.VERIFY)
    if found is None:
        return link_invalid(url_for("account.overview"), gettext("Sign in to ask for a new link"))
    return page(
        "identity/confirm_email.html",
        token=token,
        email=found.payload.get("email"),
        action=url_for("flows.verify_email", token=token),
    )


@flows.post("/verify-email/<token>")
def verify_email(token: str) -> Response:
    user = addresses.confirm(token)
    db.session.commit()
    if user is None:
        return link_invalid(url_for("account.overview"), gettext("Sign in to ask for a new link"))
    return page(
        "identity/done.html",
        title=gettext("Email address confirmed"),
        email=user.email,
        detail=gettext("You can sign in now."),
    )


@flows.get("/confirm-email/<token>")
def confirm_email_change_form(token: str) -> Response:
    found = verification.peek(token, addresses.CHANGE)
    if found is None:
        return link_invalid(url_for("credentials.change_email_form"), gettext("Ask for a new link"))
    return page(
        "identity/confirm_email.html",
        token=token,
        email=found.payload.get("new_email"),
        action=url_for("flows.confirm_email_change", token=token),
    )


@flows.post("/confirm-email/<token>")
def confirm_email_change(token: str) -> Response | tuple[str, int]:
    try:
        user = addresses.confirm_change(token)
    except addresses.AddressTaken:
        db.session.rollback()
        return render_error_page(
            gettext("That address is taken"),
            gettext("Another account uses it now. Choose another."),
            status=409,
        )
    db.session.commit()
    if user is None:
        return link_invalid(url_for("credentials.change_email_form"), gettext("Ask for a new link"))
    return page(
        "identity/done.html",
        title=gettext("Email address changed"),
        email=user.email,
        detail=gettext("Sign in with the new address from now on."),
    )
