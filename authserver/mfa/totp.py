"""TOTP (RFC 6238) with pyotp: enrol with a QR code drawn here, confirm, verify once per step."""

from __future__ import annotations

import re

import pyotp
import segno

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import TotpSecret, User

# RFC 6238 §5.2: one step either side absorbs clock drift and the time it takes to type.
VALID_WINDOW = 1
CODE = re.compile(r"[0-9]{6}")  # ASCII digits only: str.isdigit would take "٣"


def start_enrolment(user: User) -> TotpSecret:
    """A new unconfirmed secret, replacing an unconfirmed one; a confirmed secret stays
    until the person removes it (rules in removal.py). The caller commits."""
    existing = TotpSecret.of(user.id)
    if existing is not None and existing.confirmed_at is not None:
        raise ValueError("an authenticator app is already set up")
    if existing is not None:
        db.session.delete(existing)
        db.session.flush()
    secret = TotpSecret(user_id=user.id, secret=pyotp.random_base32(), last_used_step=0)
    db.session.add(secret)
    db.session.flush()
    return secret


def provisioning_uri(secret: TotpSecret, user: User, issuer_name: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code (Key Uri Format)."""
    return pyotp.TOTP(secret.secret).provisioning_uri(name=user.email, issuer_name=issuer_name)


def qr_svg(uri: str) -> str:
    """An inline SVG of the URI, drawn on the server: no outside service sees the secret,
    and no script or inline style is needed (segno writes attributes only)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def normalized(code: str) -> str | None:
    """Six ASCII digits, after the spaces people type; anything else is no code."""
    cleaned = code.replace(" ", "").strip()[:16]
    return cleaned if CODE.fullmatch(cleaned) else None


def verify(secret: TotpSecret, code: str) -> bool:
    """True once for a code of the current step or one either side. RFC 6238 §5.2: a
    code is accepted at most once, so a step at or before the last accepted one is a
    replay. The caller holds the row lock (TotpSecret.of(for_update=True)) and commits."""
    cleaned = normalized(code)
    if cleaned is None:
        return False
    try:
        step = pyotp.TOTP(secret.secret).verify_and_get_timecode(
            cleaned, for_time=utcnow(), valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        return False
    if step <= secret.last_used_step:
        return False
    secret.last_used_step = step
    return True


def confirm(secret: TotpSecret, code: str) -> bool:
    """Enrolment counts only once a current code proves the app holds the secret."""
    if not verify(secret, code):
        return False
    secret.confirmed_at = utcnow()
    return True
