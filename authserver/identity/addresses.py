"""A person's email address: confirm it by a mailed link; change it (confirmed first, the
old address told). Upstream accounts keep the upstream's `email_verified`."""

from __future__ import annotations

from flask import url_for
from sqlalchemy.exc import IntegrityError

from authserver import audit
from authserver.config import current_settings
from authserver.extensions import db
from authserver.identity import verification
from authserver.mail import limits, messages
from authserver.models import User
from authserver.models.users import normalize_email

VERIFY = "email_verification"
CHANGE = "email_change"


class AddressTaken(Exception):
    """Another account has the address (an email change lost to it)."""


def link(endpoint: str, raw: str) -> str:
    return current_settings().issuer + url_for(endpoint, token=raw)


def send_verification(user: User) -> bool:
    """Mail a confirmation link for the person's current address (within the limit)."""
    if user.email_verified or not limits.may_mail(user.email, owner=user):
        return False
    ttl = current_settings().email_verification_ttl
    raw = verification.issue(user, VERIFY, ttl, email=user.email)
    messages.queue(
        "verify_email",
        user.email,
        name=user.display_name,
        email=user.email,
        link=link("flows.verify_email", raw),
        hours=ttl // 3600,
    )
    audit.record("email.verification_sent", target_type="user", target_id=str(user.id))
    return True


def confirm(raw: str) -> User | None:
    """Use the link: the address it was mailed to is now verified, if it is still the
    person's address (a link for a replaced address confirms nothing)."""
    token = verification.use(raw, VERIFY)
    if token is None or token.user.email != token.payload.get("email"):
        return None
    token.user.email_verified = True
    audit.record(
        "email.verified",
        actor_user_id=token.user_id,
        target_type="user",
        target_id=str(token.user_id),
    )
    return token.user


def request_change(user: User, new_email: str) -> None:
    """Mail a confirmation link to the new address; nothing changes until it is used.
    A taken address gets the same answer (and no mail): the form reveals no accounts."""
    address = normalize_email(new_email)
    if User.find_by_email(address) is not None or not limits.may_mail(address):
        return
    ttl = current_settings().email_verification_ttl
    raw = verification.issue(user, CHANGE, ttl, new_email=address, old_email=user.email)
    messages.queue(
        "email_change",
        address,
        name=user.display_name,
        email=address,
        link=link("flows.confirm_email_change", raw),
        hours=ttl // 3600,
    )
    audit.record(
        "email.change_requested", actor_user_id=user.id, target_type="user", target_id=str(user.id)
    )


def confirm_change(raw: str) -> User | None:
    """Use the link: the new address replaces the old one, verified, and the old address is
    told. Raises AddressTaken when another account took the address meanwhile."""
    token = verification.use(raw, CHANGE)
    if token is None or token.user.email != token.payload.get("old_email"):
        return None
    user, old = token.user, token.user.email
    try:
        with db.session.begin_nested():
            user.email = token.payload["new_email"]
            user.email_verified = True
    except IntegrityError:
        raise AddressTaken from None
    messages.queue("email_changed", old, name=user.display_name, old_email=old, email=user.email)
    audit.record("email.changed", actor_user_id=user.id, target_type="user", target_id=str(user.id))
    return user
