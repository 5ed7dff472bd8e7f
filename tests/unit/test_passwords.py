"""Local passwords: argon2id, the length policy, and one verification on every attempt."""

from __future__ import annotations

import pytest

from authserver.identity import passwords
from authserver.identity.passwords import PasswordPolicyError, hash_password, verify_password


def test_hashes_are_argon2id_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_the_length_policy_is_enforced(password: str) -> None:
    with pytest.raises(PasswordPolicyError):
        hash_password(password)


def test_a_missing_account_costs_one_verification_like_a_wrong_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same work whether or not the account exists, so timing does not tell."""
    stored = hash_password("correct horse battery")
    calls: list[str] = []
    real = passwords._hasher

    class CountingHasher:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    assert verify_password(stored, "wrong guess!!") is False
    assert verify_password(None, "wrong guess!!") is False
    assert verify_password(None, "authserver-no-such-account") is False  # never a match
    assert len(calls) == 3 and calls[1].startswith("$argon2id$")


def test_a_corrupt_stored_hash_is_a_mismatch_not_a_crash() -> None:
    assert verify_password("not-a-hash", "anything at all") is False
