"""TOTP (RFC 6238) with pyotp: enrol with a QR code drawn here, confirm, verify once per step.

The secret must be readable to compute codes, so it cannot be hashed like our generated
tokens. It is stored encrypted (cryptography's Fernet) under a key derived from
AUTHSERVER_SECRET_KEY, so a copy of the database or of a backup alone yields no codes.
"""

from __future__ import annotations

import base64
import logging
import re
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import TotpSecret, User

log = logging.getLogger(__name__)

# RFC 6238 §5.2: one step either side absorbs clock drift and the time it takes to type.
VALID_WINDOW = 1
CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: str.isdigit would take "٣"
_KEY_INFO = b"authserver mfa totp secret"


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        current_settings().secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(raw: str) -> str:
    """What the database keeps of a base32 secret."""
    return _fernet().encrypt(raw.encode()).decode()


def raw_secret(secret: TotpSecret) -> str | None:
    """The base32 secret, or None when it cannot be read (AUTHSERVER_SECRET_KEY changed)."""
    try:
        return _fernet().decrypt(secret.secret_ciphertext.encode()).decode()
    except InvalidToken:
        log.error("TOTP secret of user %s cannot be decrypted: was the secret key changed?",
                  secret.user_id)  # fmt: skip
        return None


def start_enrolment(user: User) -> TotpSecret:
    """A new unconfirmed secret, replacing an unconfirmed one; a confirmed secret stays
    until the person removes it (policy.removal_refusal). The caller commits."""
    User.lock(user.id)  # two tabs starting at once must not both insert (one per person)
    existing = TotpSecret.of(user.id)
    if existing is not None and existing.confirmed_at is not None:
        raise ValueError("an authenticator app is already set up")
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    secret = TotpSecret(
        user_id=user.id, secret_ciphertext=seal(pyotp.random_base32()), last_used_step=0
    )
    db.session.add(secret)
    db.session.flush()
    return secret


def provisioning_uri(raw: str, user: User, issuer_name: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code (Key Uri Format)."""
    return pyotp.TOTP(raw).provisioning_uri(name=user.email, issuer_name=issuer_name)


def qr_svg(uri: str) -> str:
    """An inline SVG of the URI, drawn on the server: no outside service sees the secret,
    and no script or inline style is needed (segno writes attributes only)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def normalized(code: str) -> str | None:
    """Six ASCII digits, after the spaces people type; anything else is no code."""
    cleaned = code.replace(" ", "").strip()[:16]
    return cleaned if CODE.fullmatch(cleaned) else None


def accepted_step(raw: str, code: str, last_used_step: int, now: datetime) -> int | None:
    """The time step a code belongs to, when it is one to accept: the current step or one
    either side, and later than the last accepted one (RFC 6238 §5.2: a code is accepted
    at most once, so an earlier or equal step is a replay)."""
    cleaned = normalized(code)
    if cleaned is None:
        return None
    try:
        step = pyotp.TOTP(raw).verify_and_get_timecode(
            cleaned, for_time=now, valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        return None
    return step if step > last_used_step else None


def verify(secret: TotpSecret, code: str) -> bool:
    """True once per accepted code. The caller holds the row lock
    (TotpSecret.of(for_update=True)), so two requests cannot spend one step, and commits."""
    raw = raw_secret(secret)
    step = accepted_step(raw, code, secret.last_used_step, utcnow()) if raw else None
    if step is None:
        return False
    secret.last_used_step = step
    return True


def confirm(secret: TotpSecret, code: str) -> bool:
    """Enrolment counts only once a current code proves the app holds the secret."""
    if not verify(secret, code):
        return False
    secret.confirmed_at = utcnow()
    return True
