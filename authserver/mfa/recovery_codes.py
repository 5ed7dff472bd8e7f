"""Recovery codes: ten single-use codes, shown once, stored as SHA-256, regenerable."""

from __future__ import annotations

import secrets

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.mail import messages
from authserver.models import RecoveryCode, User

COUNT = 10
# Ten characters of an alphabet without look-alikes (no 0/O, 1/l/I): 50 bits each, so a
# SHA-256 is enough to store them (DESIGN "Storage"), as for our other generated secrets.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 10


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalized(code: str) -> str | None:
    """What a person types, as stored: lower case, the dash where it belongs."""
    cleaned = code.strip().lower().replace(" ", "").replace("-", "")[:32]
    if len(cleaned) != LENGTH or any(char not in ALPHABET for char in cleaned):
        return None
    return f"{cleaned[:5]}-{cleaned[5:]}"


def regenerate(user: User) -> list[str]:
    """Replace every code of the person with ten new ones; the raw codes are returned once
    to show, never stored. The caller commits."""
    RecoveryCode.remove_all(user.id)
    codes = [_new_code() for _ in range(COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=sha256_hex(code)) for code in codes)
    db.session.flush()
    return codes


def use(user: User, code: str) -> bool:
    """Spend one unused code: an audit event, and the person is told. The caller commits."""
    cleaned = normalized(code)
    found = RecoveryCode.find_unused(user.id, cleaned) if cleaned else None
    if found is None:
        return False
    found.used_at = utcnow()
    audit.record(
        "mfa.recovery_code_used",
        actor_user_id=user.id,
        target_type="user",
        target_id=str(user.id),
        remaining=RecoveryCode.unused_count(user.id),
    )
    notify_recovery_code_used(user)
    return True


def notify_recovery_code_used(user: User) -> None:
    """Tell the person that one of their recovery codes was just used to sign in, so that
    a stranger's use does not go unnoticed (the audit event is recorded by `use`). The mail
    goes to the outbox in this transaction: it is sent only if the sign-in commits."""
    messages.queue(
        "recovery_code_used",
        user.email,
        name=user.display_name,
        email=user.email,
        left=RecoveryCode.unused_count(user.id),
    )
