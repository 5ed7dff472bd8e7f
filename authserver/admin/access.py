"""Who may enter the admin console, and who may do the root-only things inside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from authserver.clock import utcnow
from authserver.mfa.amr import is_multi_factor
from authserver.mfa.second_step import had_factor_before
from authserver.models import Session, User


class Refusal(Enum):
    """Why check_operator said no; the console turns each into a page."""

    SIGN_IN = "sign_in"  # nobody signed in: go to the sign-in page
    NOT_OPERATOR = "not_operator"  # signed in, no platform role: a plain 404
    STALE = "stale"  # an operator whose sign-in is too old: sign in again
    SECOND_FACTOR = "second_factor"  # an operator's sign-in used one factor only


@dataclass(frozen=True)
class Operator:
    """The person at the console, with the role they act in."""

    user: User
    role: str
    session: Session

    @property
    def is_root(self) -> bool:
        return self.role == "root"


def check_operator(session: Session | None, max_age: int) -> Operator | Refusal:
    """The one entry rule of /admin. A person may enter when
    1. they are signed in (a live session of an active account),
    2. they hold a platform role (root or admin), and
    3. they signed in within the last `max_age` seconds (AUTHSERVER_ADMIN_MAX_AGE): a
       console left open, or a stolen long-lived cookie, must not change the whole server;
    4. that sign-in used a second factor (`mfa` in its RFC 8176 methods) the person had
       set up before it: one stolen password must not open the whole server, and setting
       up a first factor in a password-only session (which upgrades that session for the
       person's own apps) proves nothing about who holds it (security review).
    """
    if session is None or not session.user.is_active:
        return Refusal.SIGN_IN
    role = session.user.platform_role
    if role is None:
        return Refusal.NOT_OPERATOR
    if utcnow() - session.auth_time > timedelta(seconds=max_age):
        return Refusal.STALE
    if not is_multi_factor(session.auth_methods):
        return Refusal.SECOND_FACTOR
    if not had_factor_before(session.user, session.auth_time):
        return Refusal.SECOND_FACTOR
    return Operator(user=session.user, role=role.role, session=session)
