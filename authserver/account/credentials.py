"""Routes of the credentials blueprint: the person changes their password or email address,
or asks again for the link that confirms it (all POST + CSRF, signed in)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for
from flask_babel import gettext

from authserver import ratelimits
from authserver.config import current_settings
from authserver.errors import render_error_page, too_many_attempts_page
from authserver.extensions import db
from authserver.identity import addresses, recovery, sessions, throttle
from authserver.identity.flows import password_rule
from authserver.identity.forms import MAX_EMAIL, form_password, form_text, is_email, page
from authserver.identity.passwords import PasswordPolicyError, check_policy
from authserver.models import Session, User

credentials = Blueprint("credentials", __name__, url_prefix="/account")

# Each of these forms checks the current password or sends mail. They are counted per
# signed-in person, after the session is known: a limit keyed on the IP address would let
# anyone behind the same address (an office, a phone carrier) spend everyone's allowance.
PERSON_LIMIT = "10 per hour"


def _sign_in_first() -> Response:
    return redirect(url_for("identity.sign_in", return_to="account"), code=303)


def _local_session() -> tuple[Session | None, Response | tuple[str, int] | None]:
    """The signed-in person, who must have a local password: an upstream account's address
    and password belong to the upstream."""
    session = sessions.current()
    if session is None:
        return None, _sign_in_first()
    if session.user.password_hash is None:
        return None, render_error_page(
            gettext("Managed elsewhere"),
            gettext("This account signs in through another provider; change it there."),
            status=403,
        )
    return session, None


def _over_limit(user: User) -> Response | None:
    """The person's allowance of credential changes and confirmation mails, spent by one."""
    wait = ratelimits.reserve(PERSON_LIMIT, "account-credentials", str(user.id))
    return too_many_attempts_page(wait) if wait else None


@credentials.get("/password")
def change_password_form() -> Response | tuple[str, int]:
    _, refused = _local_session()
    return refused or page("account/change_password.html")


@credentials.post("/password")
def change_password() -> Response | tuple[str, int]:
    session, refused = _local_session()
    if refused is not None:
        return refused
    if (spent := _over_limit(session.user)) is not None:
        return spent
    new = form_password("new_password")
    try:
        check_policy(new)
        recovery.change(session, form_password("current_password"), new)
    except PasswordPolicyError:
        return page(
            "account/change_password.html",
            error=password_rule(),
            status=400,
        )
    except recovery.WrongPassword:
        return page(
            "account/change_password.html",
            status=400,
            error=gettext("The current password is not right."),
        )
    db.session.commit()
    response = page(
        "identity/done.html",
        title=gettext("Password changed"),
        email=session.user.email,
        detail=gettext("Your other sessions were signed out."),
        back=url_for("account.overview"),
    )
    # The change ended every device cookie's trust (throttle._password_stamp) but this
    # browser's: else a stranger's guesses could lock the person out of it.
    throttle.trust_device(response, session.user)
    return response


@credentials.get("/email")
def change_email_form() -> Response | tuple[str, int]:
    session, refused = _local_session()
    return refused or page("account/change_email.html", person=session.user, email="")


@credentials.post("/email")
def change_email() -> Response | tuple[str, int]:
    session, refused = _local_session()
    if refused is not None:
        return refused
    if (spent := _over_limit(session.user)) is not None:
        return spent
    user, email = session.user, form_text("email", MAX_EMAIL).lower()
    error = None
    if not is_email(email):
        error = gettext("Enter an email address such as ada@example.com.")
    elif email == user.email:
        error = gettext("That is already your address.")
    elif not recovery.password_matches(user, form_password("password")):
        error = gettext("The password is not right.")
    if error is not None:
        return page("account/change_email.html", person=user, email=email, error=error, status=400)
    addresses.request_change(user, email)
    db.session.commit()
    return page("identity/mail_sent.html", email=email, why="email_change")


@credentials.post("/verify-email")
def send_verification() -> Response | tuple[str, int]:
    session = sessions.current()
    if session is None:
        return _sign_in_first()
    if (spent := _over_limit(session.user)) is not None:
        return spent
    if not current_settings().mail_enabled:
        return render_error_page(
            gettext("Mail is unavailable"), gettext("Ask your administrator."), status=404
        )
    addresses.send_verification(session.user)
    db.session.commit()
    return page("identity/mail_sent.html", email=session.user.email, why="verify")
