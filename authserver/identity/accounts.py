"""What an operator does to a person's account: disable, enable, sign out everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from authserver import audit
from authserver.clock import utcnow
from authserver.identity import sessions
from authserver.models import GrantFamily, Session, User
from authserver.oauth import families

# The reason stored on every grant family and session an operator ends (audit "admin").
ADMIN_REASON = "admin"


@dataclass(frozen=True)
class SignedOut:
    sessions: int
    grants: int


def sign_out_everywhere(user: User, *, reason: str = ADMIN_REASON) -> SignedOut:
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


def disable(user: User) -> SignedOut:
    """Offboarding: the person can no longer sign in by any method, and everything they were
    signed in to ends now."""
    user.is_active = False
    audit.record("user.disabled", target_type="user", target_id=str(user.id))
    return sign_out_everywhere(user)


def enable(user: User) -> None:
    user.is_active = True
    audit.record("user.enabled", target_type="user", target_id=str(user.id))
