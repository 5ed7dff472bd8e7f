"""Server-generated secrets: make them, hash them for storage, compare them in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh random secret (256 bits, URL-safe) for codes, tokens and client secrets."""
    return secrets.token_urlsafe(SECRET_BYTES)


def sha256_hex(raw: str) -> str:
    """What we store for a generated secret; the raw value is shown once and never kept."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def matches_hash(raw: str, stored_hash: str) -> bool:
    """Timing-safe check of a presented secret against its stored SHA-256."""
    return hmac.compare_digest(sha256_hex(raw), stored_hash)
