"""Client assertions already used (RFC 7523 §3 item 7): a `jti` seen again is a replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models.base import UTCDateTime, UUIDPrimaryKey


class UsedClientAssertion(UUIDPrimaryKey, db.Model):
    """One (client, jti) per row, kept until the assertion expires. A table rather than a
    per-process set, so that every instance refuses a replay another one accepted."""

    __tablename__ = "used_client_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    client_id: Mapped[str] = mapped_column(String(100))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    @classmethod
    def record_first_use(cls, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Insert the pair; False when it was there already (a replay). The insert runs in
        a savepoint so a duplicate leaves the request's transaction usable."""
        db.session.execute(delete(cls).where(cls.expires_at <= utcnow()))
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(cls),
                    {"client_id": client_id, "jti": jti, "expires_at": expires_at},
                )
        except IntegrityError:
            return False
        return True
