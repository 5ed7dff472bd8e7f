"""DPoP proofs already seen (RFC 9449 §11.1), when no Redis is configured to remember them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.base import UTCDateTime


class DPoPProofUse(db.Model):
    """One proof's `jti` (with its key's thumbprint, hashed) until its `iat` window closes."""

    __tablename__ = "dpop_proof_uses"

    proof_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    @classmethod
    def record_first_use(cls, proof_hash: str, expires_at: datetime, now: datetime) -> bool:
        """Insert the record in a savepoint of the caller's transaction; False when the proof
        was seen before (the primary key refuses the second insert; on PostgreSQL a
        concurrent insert of the same key waits for the first to commit, then fails).
        The caller commits at once, before it locks or writes anything else."""
        try:
            with db.session.begin_nested():
                stale = delete(cls).where(cls.proof_hash == proof_hash, cls.expires_at < now)
                db.session.execute(stale)
                db.session.execute(
                    insert(cls), {"proof_hash": proof_hash, "expires_at": expires_at}
                )
        except IntegrityError:
            return False
        return True
