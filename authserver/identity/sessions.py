"""Sign-in sessions: start or refresh one (a fresh random cookie token), find the current
one, end it.

The cookie holds a random token; the sessions table holds its SHA-256, expiries, auth time
and methods (DESIGN "Identity"). A new token at every sign-in means no session fixation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, Response, g, request
from sqlalchemy import select

from authserver import audit
from authserver.clock import utcnow
from authserver.config import Settings, current_settings
from authserver.extensions import db, login_manager
from authserver.hashing import new_secret, sha256_hex
from authserver.models import GrantFamily, Session, User
from authserver.oauth import families
from authserver.oauth.families import RevocationReason
from authserver.oidc import backchannel

# Refresh last_used_at at most this often: a write per page view is not worth it.
TOUCH_INTERVAL = timedelta(minutes=1)

# The reasons a session ends with (end() passes them on to the grants it revokes); the
# others are for grants alone. docs/operations.md's "Revocation reasons" says which is which.
END_REASONS = frozenset(
    {
        RevocationReason.LOGOUT,
        RevocationReason.USER_ENDED,
        RevocationReason.NEW_SIGN_IN,
        RevocationReason.PASSWORD_CHANGED,
        RevocationReason.PASSWORD_RESET,
        RevocationReason.ADMIN,
        RevocationReason.ADDRESS_RELEASED,
    }
)


def start(
    user: User, methods: list[str], settings: Settings, auth_time: datetime | None = None
) -> tuple[Session, str]:
    """Add a new session for the person; the caller commits and sets the cookie.
    `auth_time` is when the person authenticated, when an upstream says it was earlier."""
    now = utcnow()
    raw = new_secret()
    session = Session(
        user_id=user.id,
        token_hash=sha256_hex(raw),
        created_at=now,
        last_used_at=now,
        idle_expires_at=now + timedelta(seconds=settings.session_idle_ttl),
        expires_at=now + timedelta(seconds=settings.session_absolute_ttl),
        auth_time=auth_time or now,
        auth_methods=methods,
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:512] or None,
    )
    user.last_sign_in_at = now
    db.session.add(session)
    db.session.flush()
    g.authserver_session = session
    return session, raw


def sign_in(
    user: User, methods: list[str], settings: Settings, auth_time: datetime | None = None
) -> tuple[Session, str]:
    """The session of a sign-in in this browser; the caller commits and sets the cookie.

    The same person authenticating again (prompt=login, max_age) refreshes the session
    they have: its id stays, so `sid` in other apps' tokens stays valid and their grants
    live on. Only a different person signing in ends the previous session and what it
    started. Either way the cookie gets a new token: no session fixation."""
    previous = current()
    if previous is None or previous.user_id != user.id:
        if previous is not None:
            end(previous, reason=RevocationReason.NEW_SIGN_IN)
        return start(user, methods, settings, auth_time)
    return _reauthenticated(previous, methods, settings, auth_time)


def _reauthenticated(
    session: Session, methods: list[str], settings: Settings, auth_time: datetime | None
) -> tuple[Session, str]:
    now = utcnow()
    raw = new_secret()
    session.token_hash = sha256_hex(raw)
    session.auth_time = auth_time or now
    session.auth_methods = methods
    session.last_used_at = now
    session.idle_expires_at = min(
        now + timedelta(seconds=settings.session_idle_ttl), session.expires_at
    )
    session.ip_address = request.remote_addr
    session.user_agent = (request.user_agent.string or "")[:512] or None
    session.user.last_sign_in_at = now
    db.session.flush()
    return session, raw


def set_cookie(response: Response, raw: str, settings: Settings) -> None:
    response.set_cookie(
        settings.session_cookie_name,
        raw,
        max_age=settings.session_absolute_ttl,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
        path="/",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        settings.session_cookie_name, path="/", secure=settings.cookie_secure, samesite="Lax"
    )


def current() -> Session | None:
    """The live session of this request's cookie, touched for idle expiry; cached per request."""
    if "authserver_session" in g:
        return g.authserver_session
    settings = current_settings()
    raw = request.cookies.get(settings.session_cookie_name)
    session = Session.find_active(raw) if raw else None
    if session is not None and not session.user.is_active:
        session = None
    if session is not None:
        _touch(session, settings)
        g.user_id = session.user_id  # for the request log line
    g.authserver_session = session
    return session


def _touch(session: Session, settings: Settings) -> None:
    now = utcnow()
    if now - session.last_used_at < TOUCH_INTERVAL:
        return
    session.last_used_at = now
    session.idle_expires_at = min(
        now + timedelta(seconds=settings.session_idle_ttl), session.expires_at
    )
    db.session.flush()


def end(session: Session, *, reason: RevocationReason) -> None:
    """Delete the session (its cookie is then worthless on every instance at once), revoke
    the grants it started, except offline_access ones, which a person granted precisely to
    outlive the session (OIDC Core §11), and queue a logout token for each client that holds
    a grant from it and asked for one (OIDC Back-Channel Logout 1.0)."""
    now = utcnow()
    started = db.session.scalars(
        select(GrantFamily).where(
            GrantFamily.session_id == session.id, GrantFamily.revoked_at.is_(None)
        )
    )
    for family in started:
        if "offline_access" not in family.scope.split():
            families.revoke_family(family, reason, now)
    # OIDC Back-Channel Logout 1.0: queued with this change, sent later by the outbox worker.
    backchannel.queue_for(session)
    audit.record(
        "session.ended",
        actor_user_id=session.user_id,
        target_type="session",
        target_id=str(session.id),
        reason=reason,
    )
    db.session.delete(session)
    db.session.flush()
    if g.get("authserver_session") is session:
        g.authserver_session = None


def current_person() -> User | None:
    session = current()
    return session.user if session is not None else None


def init_sessions(app: Flask) -> None:
    """Flask-Login loads the person from our session table, never from Flask's cookie."""
    login_manager.init_app(app)
    login_manager.request_loader(lambda _request: current_person())
    # Flask-Login's session protection guards a user id kept in Flask's cookie, which we
    # never keep there. All it did was mark that cookie `_fresh` on the first page that
    # read current_user, rewriting it: a response that finished after a concurrent one
    # (the favicon's after the click on "Sign in with Google") undid that one's changes.
    login_manager.session_protection = None
    # Nor do we call login_user, so Flask-Login's remember-me cookie is never set: its
    # after_request hook only looked into Flask's session on every response, which marked
    # every one `Vary: Cookie` (the OpenAPI document too, to any shared cache) and cost a
    # twentieth of a trivial request.
    hooks = app.after_request_funcs[None]
    hooks.remove(login_manager._update_remember_cookie)
    # g lives as long as the app context, which a test (or a CLI command) may hold across
    # several requests: the cached session and person belong to one request only.
    app.before_request(_forget_cached_session)


def _forget_cached_session() -> None:
    g.pop("authserver_session", None)
    g.pop("_login_user", None)  # Flask-Login's cache of current_user
