"""An operator's reset of a person's second factors (`authserver users reset-mfa`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete

from authserver import audit
from authserver.extensions import db
from authserver.models import PendingSignIn, RecoveryCode, TotpSecret, User, WebAuthnCredential


@dataclass(frozen=True)
class Reset:
    totp: int
    webauthn: int
    recovery_codes: int


def reset_factors(user: User) -> Reset:
    """Remove every factor, recovery code and half-finished sign-in of the person, audited;
    the person signs in with the first factor alone and may enrol again. Sessions stay:
    ending them is `users sign-out`. The caller commits."""
    removed = Reset(
        totp=_deleted(TotpSecret, user),
        webauthn=_deleted(WebAuthnCredential, user),
        recovery_codes=_deleted(RecoveryCode, user),
    )
    _deleted(PendingSignIn, user)
    audit.record(
        "mfa.reset",
        target_type="user",
        target_id=str(user.id),
        by="operator_cli",
        totp=removed.totp,
        webauthn=removed.webauthn,
        recovery_codes=removed.recovery_codes,
    )
    return removed


def _deleted(model: type, user: User) -> int:
    return db.session.execute(delete(model).where(model.user_id == user.id)).rowcount
