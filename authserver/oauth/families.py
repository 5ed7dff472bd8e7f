"""Grant families and their rotating refresh tokens: start, mint, rotate, revoke.

RFC 9700 §4.14.2: a refresh token is single-use; presenting a rotated-out one is reuse and
revokes the whole family. The grace window (DESIGN "Protocol surface") turns a repeat by the
same client shortly after rotation into an idempotent retry: it gets the same successor back.
To return that successor without storing any refresh token in plain text, the old row keeps
the successor encrypted under a key derived from the old token's raw value, which only its
holder has. Hand-written with cryptography's HKDF and AES-GCM: no library does this.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import update

from authserver import audit
from authserver.config import Settings
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import GrantFamily, OAuthClient, RefreshToken
from authserver.oauth import store

_SEAL_INFO = b"authserver refresh-token successor v1"
_NONCE_BYTES = 12


class RevocationReason(StrEnum):
    """Why a grant family was revoked or a session ended: stored on the family
    (`revoked_reason`, at most 30 characters) and the `reason` of the audit event. Ending a
    session revokes the grants it started with the session's reason. Every reason is
    explained in docs/operations.md ("Revocation reasons"); a unit test holds the two in
    step, and another refuses a reason written as a bare string at a call site."""

    # Sessions end with these (identity/sessions.py END_REASONS), and so do their grants.
    LOGOUT = "logout"
    USER_ENDED = "user_ended"
    NEW_SIGN_IN = "new_sign_in"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ADMIN = "admin"
    ADDRESS_RELEASED = "address_released"
    # Only grants are revoked with these.
    REFRESH_REUSE = "refresh_reuse"
    REFRESH_REUSE_OTHER_CLIENT = "refresh_reuse_other_client"
    REFRESH_SUCCESSOR_TAMPERED = "refresh_successor_tampered"
    CODE_REPLAY = "code_replay"
    CLIENT_REVOKED = "client_revoked"
    USER_REVOKED = "user_revoked"
    USER_DISABLED = "user_disabled"
    MEMBERSHIP_REMOVED = "membership_removed"
    SECOND_FACTOR_REQUIRED = "second_factor_required"


class RefreshRefused(Exception):
    """The refresh token cannot be used; `reason` goes to the log and audit, never the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _cipher(raw_token: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(
        raw_token.encode()
    )
    return AESGCM(key)


def seal(raw_token: str, successor_raw: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _cipher(raw_token).encrypt(nonce, successor_raw.encode(), None)


def unseal(raw_token: str, sealed: bytes) -> str:
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    return _cipher(raw_token).decrypt(nonce, ciphertext, None).decode()


def new_link(
    family: GrantFamily | store.Family, settings: Settings, now: datetime
) -> tuple[str, store.NewLink]:
    """A new refresh token of the family, raw and as the row to insert; its idle deadline
    never passes the family's end."""
    raw = new_secret()
    link = store.NewLink(
        id=uuid.uuid4(),
        token_hash=sha256_hex(raw),
        family_id=family.id,
        client_id=family.client_id,
        user_id=family.user_id,
        scope=family.scope,
        created_at=now,
        expires_at=min(now + timedelta(seconds=settings.refresh_token_idle_ttl), family.expires_at),
    )
    return raw, link


def mint_refresh_token(family: GrantFamily, settings: Settings, now: datetime) -> str:
    """A new refresh token in the family, written now; returns it raw."""
    raw, link = new_link(family, settings, now)
    store.insert_link(link)
    return raw


def revoke(
    family_id: uuid.UUID,
    reason: RevocationReason,
    now: datetime,
    *,
    actor_client_id: str | None = None,
) -> None:
    """revoke_family for a family known by its id (the token paths read plain rows)."""
    family = db.session.get(GrantFamily, family_id)
    if family is not None:
        revoke_family(family, reason, now, actor_client_id=actor_client_id)


def revoke_family(
    family: GrantFamily,
    reason: RevocationReason,
    now: datetime,
    *,
    actor_client_id: str | None = None,
) -> None:
    """Revoke everything the family issued: its refresh tokens now, its access tokens through
    the family id they carry (introspection reports them inactive). The first revocation
    is an audit event with its reason."""
    if family.revoked_at is None:
        family.revoked_at = now
        family.revoked_reason = reason
        audit.record(
            "token.family_revoked",
            outcome="success",
            actor_client_id=actor_client_id,
            organization_id=family.organization_id,
            target_type="grant_family",
            target_id=str(family.id),
            reason=reason,
        )
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.flush()


def rotate(
    presented_raw: str,
    token: store.RefreshLink,
    client: OAuthClient,
    settings: Settings,
    now: datetime,
) -> str:
    """Use a refresh token (already row-locked by the caller) and return the one successor,
    raw: a new one, or on a retry within the grace window the same one again."""
    family = token.family
    if token.client_id != client.id:
        revoke(family.id, RevocationReason.REFRESH_REUSE_OTHER_CLIENT, now)
        raise RefreshRefused("refresh token presented by another client")
    if family.revoked_at is not None or token.revoked_at is not None:
        raise RefreshRefused("refresh token revoked")
    if now >= family.expires_at or now >= token.expires_at:
        raise RefreshRefused("refresh token expired")
    if token.rotated_at is None:
        return _rotate_now(presented_raw, token, family, settings, now)
    grace = timedelta(seconds=settings.refresh_grace_period)
    if settings.refresh_grace_period and now - token.rotated_at <= grace:
        return _replay_successor(presented_raw, token, family, now)
    revoke(family.id, RevocationReason.REFRESH_REUSE, now)
    raise RefreshRefused("rotated-out refresh token reused")


def _rotate_now(
    presented_raw: str,
    token: store.RefreshLink,
    family: store.Family,
    settings: Settings,
    now: datetime,
) -> str:
    successor_raw, successor = new_link(family, settings, now)
    try:
        store.rotate(token.id, successor, seal(presented_raw, successor_raw), now)
    except store.LostRace:
        # Another request rotated it between our read and our write (SQLite, which has
        # no row lock): keep nothing of this one, and refuse it.
        db.session.rollback()
        raise RefreshRefused("refresh token rotated by a concurrent request") from None
    return successor_raw


def _replay_successor(
    presented_raw: str, token: store.RefreshLink, family: store.Family, now: datetime
) -> str:
    """Walk to the newest link of the chain: every retry gets the one current successor."""
    raw, row = presented_raw, token  # the presented link, then the ORM rows after it
    while row.rotated_at is not None:
        successor = db.session.get(RefreshToken, row.successor_id) if row.successor_id else None
        if successor is None or row.successor_ciphertext is None:
            raise RefreshRefused("successor of a rotated refresh token is gone")
        try:
            raw = unseal(raw, row.successor_ciphertext)
        except InvalidTag:
            revoke(family.id, RevocationReason.REFRESH_SUCCESSOR_TAMPERED, now)
            raise RefreshRefused("sealed successor does not open") from None
        row = successor
    if row.revoked_at is not None:
        raise RefreshRefused("refresh token revoked")
    return raw
