"""What an operator does to a person's account: create one with a local password, disable,
enable, sign out everywhere, platform roles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.identity import sessions
from authserver.identity.passwords import PasswordPolicyError, hash_password
from authserver.models import GrantFamily, PlatformRole, Session, User
from authserver.models.users import PLATFORM_ROLES, normalize_email
from authserver.oauth import families
from authserver.oauth.families import RevocationReason

# Longer than any password the policy accepts, so a form may cut its input here and still
# have the policy refuse it.
MAX_PASSWORD_INPUT = 1025


class AccountInvalid(ValueError):
    """A field of a new account is refused; `field` names it, the message says why."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field_name


def checked_email(raw: str) -> str:
    email = normalize_email(raw)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 255 or any(c.isspace() for c in email):
        raise AccountInvalid("email", f"{raw!r} is not an email address")
    return email


def checked_display_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise AccountInvalid("name", "must be 1 to 100 printable characters")
    return name


def create_local(
    email: str,
    display_name: str,
    password: str,
    *,
    email_verified: bool = False,
    platform_role: str | None = None,
    method: str = "cli",
    actor_user_id: uuid.UUID | None = None,
) -> User:
    """A person with a local argon2id password; the caller commits. Raises AccountInvalid
    for a bad field or an email that already has an account (also when another request
    takes it first: the unique index decides)."""
    email = checked_email(email)
    display_name = checked_display_name(display_name)
    if User.find_by_email(email) is not None:
        raise AccountInvalid("email", f"{email} already has an account")
    try:
        password_hash = hash_password(password)
    except PasswordPolicyError as error:
        raise AccountInvalid("password", str(error)) from None
    user = User(
        email=email,
        email_verified=email_verified,
        display_name=display_name,
        password_hash=password_hash,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise AccountInvalid("email", f"{email} already has an account") from None
    if platform_role:
        db.session.add(PlatformRole(user_id=user.id, role=platform_role))
    audit.record(
        "user.created",
        actor_user_id=actor_user_id,
        target_type="user",
        target_id=str(user.id),
        method=method,
    )
    db.session.flush()
    return user


@dataclass(frozen=True)
class SignedOut:
    sessions: int
    grants: int


def sign_out_everywhere(
    user: User, *, reason: RevocationReason = RevocationReason.ADMIN
) -> SignedOut:
    """End every session of the person and revoke every grant family they hold, offline
    ones included: their refresh tokens stop at once, and their access tokens are inactive
    at introspection and /userinfo. The reason goes on each revocation and audit event.
    The caller commits."""
    # Grants first: ending a session revokes the grants it started, and they would then be
    # missing from the count.
    revoked = GrantFamily.active_of(user.id)
    now = utcnow()
    for family in revoked:
        families.revoke_family(family, reason, now)
    ended = Session.all_of(user.id)
    for session in ended:
        sessions.end(session, reason=reason)
    return SignedOut(sessions=len(ended), grants=len(revoked))


def disable(user: User, *, actor_user_id: uuid.UUID | None = None) -> SignedOut:
    """Offboarding: the person can no longer sign in by any method, and everything they were
    signed in to ends now. `actor_user_id` is the operator (None from the CLI)."""
    user.is_active = False
    audit.record(
        "user.disabled", actor_user_id=actor_user_id, target_type="user", target_id=str(user.id)
    )
    return sign_out_everywhere(user)


def release_unverified_address(user: User) -> None:
    """An account whose address was never proved gives it up to the person who proves it
    (an upstream that verified it). Otherwise whoever registered the address first, with a
    password of their choosing, would share the real owner's account: a pre-account
    hijack. The account is disabled, signed out everywhere and moved to an address that can
    never receive mail (RFC 2606 .invalid); its rows stay for the audit trail. The caller
    commits."""
    former = user.email
    user.email = f"released-{user.id.hex}@released.invalid"
    user.is_active = False
    db.session.flush()  # the address is free for the account the caller makes next
    audit.record(
        "user.address_released",
        target_type="user",
        target_id=str(user.id),
        email=former,
        reason=RevocationReason.ADDRESS_RELEASED,
    )
    sign_out_everywhere(user, reason=RevocationReason.ADDRESS_RELEASED)


def enable(user: User, *, actor_user_id: uuid.UUID | None = None) -> None:
    user.is_active = True
    audit.record(
        "user.enabled", actor_user_id=actor_user_id, target_type="user", target_id=str(user.id)
    )


class LastRoot(ValueError):
    """The change would leave the server without an active root operator."""


def set_platform_role(
    user: User, role: str | None, *, actor_user_id: uuid.UUID | None = None
) -> bool:
    """Give the person the platform role `role` (root or admin), or none; True if it
    changed. Refuses to take the last root away: nobody could then grant roles from the
    console. The caller commits."""
    if role is not None and role not in PLATFORM_ROLES:
        raise ValueError(f"unknown platform role {role!r}")
    current = user.platform_role.role if user.platform_role else None
    if current == role:
        return False
    if current == "root" and _active_roots(for_update=True) <= 1:
        raise LastRoot("the server needs at least one root operator")
    if user.platform_role is None:
        user.platform_role = PlatformRole(user_id=user.id, role=role)
    elif role is None:
        user.platform_role = None
    else:
        user.platform_role.role = role
    audit.record(
        "user.platform_role_changed",
        actor_user_id=actor_user_id,
        target_type="user",
        target_id=str(user.id),
        previous=current,
        role=role,
    )
    db.session.flush()
    return True


def _active_roots(*, for_update: bool) -> int:
    stmt = (
        select(PlatformRole.user_id)
        .join(User, User.id == PlatformRole.user_id)
        .where(PlatformRole.role == "root", User.is_active.is_(True))
    )
    if for_update:
        # Two roots demoting each other at once must not both succeed (PostgreSQL locks).
        stmt = stmt.with_for_update(of=PlatformRole)
    return len(db.session.scalars(stmt).all())
