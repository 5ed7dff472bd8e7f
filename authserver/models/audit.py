"""Audit events: who did what, when, from where. Never a secret, token or password."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models.base import JSONType, UTCDateTime, UUIDPrimaryKey


class AuditEvent(UUIDPrimaryKey, db.Model):
    """An append-only record.

    It holds ids, not foreign keys: the log must outlive the users, orgs and clients it names.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_type_time", "event_type", "occurred_at"),
        Index("ix_audit_events_org_time", "organization_id", "occurred_at"),
        Index("ix_audit_events_actor_time", "actor_user_id", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_client_id: Mapped[str | None] = mapped_column(String(100))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(100))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
