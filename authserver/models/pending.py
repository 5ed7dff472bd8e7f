"""Authorization requests parked while the person signs in or consents."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, String, Uuid, false, select
from sqlalchemy.orm import Mapped, mapped_column

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey


class PendingAuthorization(UUIDPrimaryKey, db.Model):
    """The query of an /authorize request, kept server-side under a random id so that a
    reload, the back button or another instance can resume it. It holds nothing secret:
    resuming re-runs every check against the signed-in person."""

    __tablename__ = "pending_authorizations"

    client_id: Mapped[str] = mapped_column(String(100), index=True)
    params: Mapped[dict[str, str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The session whose sign-in was made for this request: it satisfies the request's
    # prompt=login and max_age (OIDC Core §3.1.2.1), however the clocks of an upstream
    # and ours differ. No foreign key: a session ended since matches no live session.
    signed_in_session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # The parameters came through /par (RFC 9126): a client that must push them is served.
    pushed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @classmethod
    def find_live(cls, pending_id: uuid.UUID) -> PendingAuthorization | None:
        return db.session.scalar(select(cls).where(cls.id == pending_id, cls.expires_at > utcnow()))
