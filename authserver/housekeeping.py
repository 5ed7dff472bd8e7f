"""Housekeeping (`authserver cleanup`): delete rows that can never be valid again.

Each kind is kept one day past the moment it stopped being usable, for an operator looking
into an incident. A day is also at least the longest token lifetime the settings allow, so
no access token outlives the grant family that introspection looks up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select

from authserver.extensions import db
from authserver.models import (
    AuthorizationCode,
    DeviceAuthorization,
    DPoPProofUse,
    GrantFamily,
    OutboxMessage,
    PendingAuthorization,
    PendingSignIn,
    PushedAuthorizationRequest,
    RefreshToken,
    Session,
    UsedClientAssertion,
    VerificationToken,
    WebAuthnChallenge,
)

KEPT_AFTER_EXPIRY = timedelta(days=1)


def stale_rows(now: datetime) -> dict[str, tuple[Any, ColumnElement[bool]]]:
    """Each table with the condition that makes a row of it dead for good."""
    cutoff = now - KEPT_AFTER_EXPIRY
    return {
        "authorization_codes": (AuthorizationCode, AuthorizationCode.expires_at < cutoff),
        "pending_authorizations": (PendingAuthorization, PendingAuthorization.expires_at < cutoff),
        "sessions": (
            Session,
            or_(Session.expires_at < cutoff, Session.idle_expires_at < cutoff),
        ),
        # A family's refresh tokens go with it (ON DELETE CASCADE).
        "grant_families": (
            GrantFamily,
            or_(GrantFamily.expires_at < cutoff, GrantFamily.revoked_at < cutoff),
        ),
        "refresh_tokens": (RefreshToken, RefreshToken.expires_at < cutoff),
        "dpop_proof_uses": (DPoPProofUse, DPoPProofUse.expires_at < cutoff),
        "mfa_pending_sign_ins": (PendingSignIn, PendingSignIn.expires_at < cutoff),
        "mfa_webauthn_challenges": (WebAuthnChallenge, WebAuthnChallenge.expires_at < cutoff),
        "verification_tokens": (
            VerificationToken,
            or_(VerificationToken.expires_at < cutoff, VerificationToken.used_at < cutoff),
        ),
        # Only delivered messages: one waiting or given up is kept until it is sent.
        "outbox": (OutboxMessage, OutboxMessage.delivered_at < cutoff),
        "device_authorizations": (DeviceAuthorization, DeviceAuthorization.expires_at < cutoff),
        "pushed_authorization_requests": (
            PushedAuthorizationRequest,
            PushedAuthorizationRequest.expires_at < cutoff,
        ),
        # A jti is only needed while its assertion could still be presented.
        "used_client_assertions": (UsedClientAssertion, UsedClientAssertion.expires_at < now),
    }


def clean(now: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Delete (or with `dry_run` only count) the dead rows; the caller commits."""
    counts = {}
    for table, (model, is_dead) in stale_rows(now).items():
        if dry_run:
            counts[table] = db.session.scalar(
                select(func.count()).select_from(model).where(is_dead)
            )
        else:
            counts[table] = db.session.execute(delete(model).where(is_dead)).rowcount
    return counts
