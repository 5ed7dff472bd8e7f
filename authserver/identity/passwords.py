"""Local passwords: argon2id hashes, a length policy, and a constant-time miss."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so a miss costs what a hit costs."""
    return _hasher.hash("authserver-no-such-account")


class PasswordPolicyError(ValueError):
    """The password breaks the length policy; the message says how."""


def check_policy(password: str) -> None:
    """NIST SP 800-63B §5.1.1.2: a minimum length, a generous maximum, no composition rules."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"must be at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when the password matches. A missing hash still spends one verification."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
