"""Self-service sign-up: off by default, on, or for some email domains. An invitation
opens it for the invited address alone."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from authserver import audit
from authserver.config import Settings
from authserver.extensions import db
from authserver.identity import addresses
from authserver.identity.passwords import hash_password
from authserver.mail import limits, messages
from authserver.models import Invitation, User
from authserver.models.users import normalize_email


def is_open(settings: Settings, email: str | None = None) -> bool:
    """Sign-up is on, and the address (when given) is in an allowed domain."""
    if not settings.signup or not settings.password_login:
        return False
    if email is None or not settings.signup_domains:
        return True
    return normalize_email(email).rpartition("@")[2] in settings.signup_domains


def sign_up(
    email: str, display_name: str, password: str, *, invitation: Invitation | None = None
) -> User | None:
    """A new local account, or None when the address has one (that person is told by mail,
    and the caller answers the same: the form reveals no accounts).

    A new account's address is unverified until its link is used, except with an
    invitation for that address: the invitation link was mailed there, which proves it.
    """
    address = normalize_email(email)
    invited = invitation is not None and invitation.email == address
    # Hashed either way: a taken address must not answer faster than a free one.
    password_hash = hash_password(password)
    existing = User.find_by_email(address)
    if existing is None:
        user = User(
            email=address,
            email_verified=invited,
            display_name=display_name,
            password_hash=password_hash,
        )
        try:
            with db.session.begin_nested():
                db.session.add(user)
        except IntegrityError:  # the same address signed up at the same moment
            existing = User.find_by_email(address)
        else:
            audit.record(
                "user.created",
                actor_user_id=user.id,
                target_type="user",
                target_id=str(user.id),
                method="sign_up",
            )
            if not invited:
                addresses.send_verification(user)
            return user
    if existing is not None and limits.may_mail(address, owner=existing):
        messages.queue("signup_exists", address, name=existing.display_name, email=address)
    return None
