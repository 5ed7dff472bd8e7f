"""Second factors: TOTP secrets, WebAuthn credentials (passkeys), recovery codes, the
single-use WebAuthn challenges, half-finished sign-ins, and organizations' factor policy."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey
from authserver.models.orgs import OrganizationMember
from authserver.models.users import User


class TotpSecret(db.Model):
    """A person's authenticator app (RFC 6238). One per person; it counts once confirmed.
    The secret is stored encrypted (mfa/totp.py says how)."""

    __tablename__ = "mfa_totp_secrets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_ciphertext: Mapped[str] = mapped_column(String(255))  # Fernet token of the base32
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time step of the last accepted code: a code of that step or earlier is a replay.
    last_used_step: Mapped[int] = mapped_column(Integer, default=0)

    @classmethod
    def of(cls, user_id: uuid.UUID, *, for_update: bool = False) -> TotpSecret | None:
        stmt = select(cls).where(cls.user_id == user_id)
        if for_update:
            stmt = stmt.with_for_update()  # two guesses at once must not both spend one step
        return db.session.scalar(stmt)

    @classmethod
    def confirmed_of(cls, user_id: uuid.UUID, *, for_update: bool = False) -> TotpSecret | None:
        found = cls.of(user_id, for_update=for_update)
        return found if found is not None and found.confirmed_at is not None else None


class WebAuthnCredential(UUIDPrimaryKey, db.Model):
    """A registered authenticator (security key or passkey), named by its owner."""

    __tablename__ = "mfa_webauthn_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    # Synced passkeys (backup eligible) are "swk", device-bound keys "hwk" (RFC 8176).
    is_synced: Mapped[bool] = mapped_column(Boolean, default=False)
    transports: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @classmethod
    def all_of(cls, user_id: uuid.UUID) -> list[WebAuthnCredential]:
        stmt = select(cls).where(cls.user_id == user_id).order_by(cls.created_at)
        return list(db.session.scalars(stmt))

    @classmethod
    def find(cls, credential_id: bytes, *, for_update: bool = False) -> WebAuthnCredential | None:
        stmt = select(cls).where(cls.credential_id == credential_id)
        if for_update:
            stmt = stmt.with_for_update()  # the sign counter moves once per assertion
        return db.session.scalar(stmt)


class RecoveryCode(UUIDPrimaryKey, db.Model):
    """One of a person's single-use recovery codes, stored as its SHA-256 (DESIGN "Storage")."""

    __tablename__ = "mfa_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def unused_count(cls, user_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(cls.user_id == user_id, cls.used_at.is_(None))
        return db.session.scalar(stmt) or 0

    @classmethod
    def find_unused(cls, user_id: uuid.UUID, raw: str) -> RecoveryCode | None:
        stmt = (
            select(cls)
            .where(cls.user_id == user_id, cls.code_hash == sha256_hex(raw))
            .where(cls.used_at.is_(None))
            .with_for_update()  # one code, one use, even when two requests race
        )
        return db.session.scalar(stmt)

    @classmethod
    def remove_all(cls, user_id: uuid.UUID) -> None:
        db.session.execute(delete(cls).where(cls.user_id == user_id))


class WebAuthnChallenge(UUIDPrimaryKey, db.Model):
    """A challenge handed to the browser, kept server-side until its single use or expiry
    (WebAuthn Level 3 §13.4.3). Found again by the SHA-256 of the challenge the
    authenticator signed, so the browser carries nothing else."""

    __tablename__ = "mfa_webauthn_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # register | second_factor | passkey
    # The person (registration) or the half-finished sign-in (second factor) it is bound to.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    sign_in_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mfa_pending_sign_ins.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    @staticmethod
    def hash_of(challenge: bytes) -> str:
        return sha256_hex(challenge.hex())

    @classmethod
    def take(cls, challenge: bytes, purpose: str) -> WebAuthnChallenge | None:
        """Delete the live challenge and return it: a second use finds nothing, even when
        two requests race (one DELETE wins the row)."""
        stmt = (
            delete(cls)
            .where(cls.challenge_hash == cls.hash_of(challenge), cls.purpose == purpose)
            .returning(cls)
        )
        taken = db.session.scalars(stmt).first()
        if taken is None or taken.expires_at <= utcnow():
            return None
        return taken


class PendingSignIn(UUIDPrimaryKey, db.Model):
    """A person who passed the first factor and owes a second: short-lived, server-side,
    found by the SHA-256 of a random cookie value that means nothing alone. A step-up
    (`session_id` set) adds the factor to that session instead of starting one."""

    __tablename__ = "mfa_pending_sign_ins"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    methods: Mapped[list[str]] = mapped_column(JSONType, default=list)
    method: Mapped[str] = mapped_column(String(50))  # for the audit event: pwd, google, ...
    pending_authorization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pending_authorizations.id", ondelete="CASCADE"), index=True
    )
    return_to: Mapped[str | None] = mapped_column(String(40))
    # An upstream's own auth_time for the first factor (OIDC Core §2), None for ours.
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship()

    @classmethod
    def find_live(cls, raw: str, *, for_update: bool = False) -> PendingSignIn | None:
        stmt = select(cls).where(cls.token_hash == sha256_hex(raw), cls.expires_at > utcnow())
        if for_update:
            stmt = stmt.with_for_update()
        return db.session.scalar(stmt)


class OrganizationFactorPolicy(db.Model):
    """An organization's rule for its members' tokens: a second factor or no token."""

    __tablename__ = "mfa_organization_policies"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    require_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    @classmethod
    def requires(cls, organization_id: uuid.UUID) -> bool:
        stmt = select(cls.require_second_factor).where(cls.organization_id == organization_id)
        return bool(db.session.scalar(stmt))

    @classmethod
    def any_requires_for_member(cls, user_id: uuid.UUID) -> bool:
        stmt = (
            select(func.count())
            .select_from(cls)
            .join(OrganizationMember, OrganizationMember.organization_id == cls.organization_id)
            .where(OrganizationMember.user_id == user_id, cls.require_second_factor.is_(True))
        )
        return bool(db.session.scalar(stmt))
