"""Passwords a person changes: reset by a mailed link (which signs them out everywhere),
or change with the current one."""

from __future__ import annotations

from flask import url_for

from authserver import audit
from authserver.config import current_settings
from authserver.identity import accounts, sessions, verification
from authserver.identity.passwords import hash_password, verify_password
from authserver.mail import limits, messages
from authserver.models import Session, User, VerificationToken
from authserver.oauth.families import RevocationReason

RESET = "password_reset"


class WrongPassword(Exception):
    """The current password given to a change does not match."""


def request_reset(email: str) -> None:
    """Mail a reset link if the address has an active account with a password. The caller
    answers the same either way, and nothing here talks to the network: no timing tells."""
    user = User.find_by_email(email)
    if user is None or not user.is_active or user.password_hash is None:
        return
    if not limits.may_mail(user.email, owner=user):
        return
    ttl = current_settings().password_reset_ttl
    raw = verification.issue(user, RESET, ttl, email=user.email)
    messages.queue(
        "password_reset",
        user.email,
        name=user.display_name,
        email=user.email,
        link=current_settings().issuer + url_for("flows.reset_password", token=raw),
        minutes=ttl // 60,
    )
    audit.record("password.reset_requested", target_type="user", target_id=str(user.id))


def reset(raw: str, new_password: str) -> User | None:
    """Use the link and set the password (the caller checked the policy first). Every
    session ends and every grant is revoked: whoever knew the old password is out."""
    token = verification.use(raw, RESET)
    if token is None:
        return None
    user = token.user
    if not user.is_active or user.email != token.payload.get("email"):
        return None
    user.password_hash = hash_password(new_password)
    user.email_verified = True  # the link reached the address
    VerificationToken.retire_all(user.id, RESET)
    ended = accounts.sign_out_everywhere(user, reason=RevocationReason.PASSWORD_RESET)
    audit.record(
        "password.reset",
        actor_user_id=user.id,
        target_type="user",
        target_id=str(user.id),
        reason=RevocationReason.PASSWORD_RESET,
        sessions=ended.sessions,
        grants=ended.grants,
    )
    _tell(user, "reset with a link sent to this address; every session was signed out")
    return user


def password_matches(user: User, password: str) -> bool:
    return user.password_hash is not None and verify_password(user.password_hash, password)


def change(session: Session, current_password: str, new_password: str) -> None:
    """Needs the current password. The person's other sessions end (this one stays)."""
    user = session.user
    if not password_matches(user, current_password):
        raise WrongPassword
    user.password_hash = hash_password(new_password)
    for other in Session.all_of(user.id):
        if other.id != session.id:
            sessions.end(other, reason=RevocationReason.PASSWORD_CHANGED)
    audit.record(
        "password.changed", actor_user_id=user.id, target_type="user", target_id=str(user.id)
    )
    _tell(user, "changed from the account page; your other sessions were signed out")


def _tell(user: User, how: str) -> None:
    messages.queue(
        "password_changed", user.email, name=user.display_name, email=user.email, how=how
    )
