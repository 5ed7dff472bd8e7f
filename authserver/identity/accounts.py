"""What an operator does to a person's account: disable, enable, sign out everywhere."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.identity import sessions
from authserver.models import GrantFamily, PlatformRole, Session, User
from authserver.models.users import PLATFORM_ROLES
from authserver.oauth import families

# The reason stored on every grant family and session an operator ends (audit "admin").
ADMIN_REASON = "admin"


@dataclass(frozen=True)
class SignedOut:
    sessions: int
    grants: int


def sign_out_everywhere(user: User) -> SignedOut:
    """End every session of the person and revoke every grant family they hold, offline
    ones included: their refresh tokens stop at once, and their access tokens are inactive
    at introspection and /userinfo. The caller commits."""
    # Grants first: ending a session revokes the grants it started, and they would then be
    # missing from the count.
    revoked = GrantFamily.active_of(user.id)
    now = utcnow()
    for family in revoked:
        families.revoke_family(family, ADMIN_REASON, now)
    ended = Session.all_of(user.id)
    for session in ended:
        sessions.end(session, reason=ADMIN_REASON)
    return SignedOut(sessions=len(ended), grants=len(revoked))


def disable(user: User, *, actor_user_id: uuid.UUID | None = None) -> SignedOut:
    """Offboarding: the person can no longer sign in by any method, and everything they were
    signed in to ends now. `actor_user_id` is the operator (None from the CLI)."""
    user.is_active = False
    audit.record(
        "user.disabled", actor_user_id=actor_user_id, target_type="user", target_id=str(user.id)
    )
    return sign_out_everywhere(user)


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
