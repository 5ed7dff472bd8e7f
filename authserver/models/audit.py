"""Audit events: who did what, when, from where. Never a secret, token or password."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, Select, String, Uuid, and_, or_, select
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
        # The admin console's "events about this person / client / key".
        Index("ix_audit_events_target_time", "target_type", "target_id", "occurred_at"),
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

    @classmethod
    def page(
        cls,
        *,
        organization_id: uuid.UUID | None = None,
        type_prefix: str | None = None,
        before: tuple[datetime, uuid.UUID] | None = None,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int = 50,
        **filters: Any,
    ) -> list[AuditEvent]:
        """Newest first, keyed by (occurred_at, id) so pages never skip or repeat a row.
        `after` reads forward instead (oldest first), for following new events. `filters`
        are those of `matching`."""
        stmt = cls.matching(organization_id=organization_id, type_prefix=type_prefix, **filters)
        if after is not None:
            stmt = stmt.where(cls._beyond(after, forward=True)).order_by(cls.occurred_at, cls.id)
        else:
            if before is not None:
                stmt = stmt.where(cls._beyond(before, forward=False))
            stmt = stmt.order_by(cls.occurred_at.desc(), cls.id.desc())
        return list(db.session.scalars(stmt.limit(limit)))

    @classmethod
    def matching(
        cls,
        *,
        organization_id: uuid.UUID | None = None,
        type_prefix: str | None = None,
        actor: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        involving_user: uuid.UUID | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[tuple[AuditEvent]]:
        """The events that pass every filter given: `actor` is a person's id or a client
        id, `involving_user` a person who acted or was the target."""
        stmt = select(cls)
        if organization_id is not None:
            stmt = stmt.where(cls.organization_id == organization_id)
        if type_prefix:
            stmt = stmt.where(cls.event_type.startswith(type_prefix, autoescape=True))
        if actor is not None:
            stmt = stmt.where(cls._actor_is(actor))
        if target_type is not None:
            stmt = stmt.where(cls.target_type == target_type)
        if target_id is not None:
            stmt = stmt.where(cls.target_id == target_id)
        if involving_user is not None:
            stmt = stmt.where(
                or_(
                    cls.actor_user_id == involving_user,
                    and_(cls.target_type == "user", cls.target_id == str(involving_user)),
                )
            )
        if since is not None:
            stmt = stmt.where(cls.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(cls.occurred_at < until)
        return stmt

    @classmethod
    def _actor_is(cls, actor: str) -> ColumnElement[bool]:
        try:
            return cls.actor_user_id == uuid.UUID(actor)
        except ValueError:
            return cls.actor_client_id == actor

    @classmethod
    def _beyond(cls, key: tuple[datetime, uuid.UUID], *, forward: bool) -> ColumnElement[bool]:
        """Rows after (or before) the (occurred_at, id) key, compared column by column so
        each side is bound with its column's type."""
        at, event_id = key
        if forward:
            return or_(cls.occurred_at > at, and_(cls.occurred_at == at, cls.id > event_id))
        return or_(cls.occurred_at < at, and_(cls.occurred_at == at, cls.id < event_id))

    def as_dict(self, *, with_origin: bool = True) -> dict[str, object]:
        """The event for the API and the CLI; `with_origin` adds IP address and user agent,
        which only operators see."""
        shown: dict[str, object] = {
            "id": str(self.id),
            "occurred_at": self.occurred_at.isoformat(),
            "event_type": self.event_type,
            "outcome": self.outcome,
            "actor_user_id": str(self.actor_user_id) if self.actor_user_id else None,
            "actor_client_id": self.actor_client_id,
            "organization_id": str(self.organization_id) if self.organization_id else None,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "request_id": self.request_id,
            "details": self.details,
        }
        if with_origin:
            shown.update(ip_address=self.ip_address, user_agent=self.user_agent)
        return shown
