"""record(): write an audit event in the caller's unit of work. Never pass it a secret.

Each event is a row in audit_events and, once its transaction commits, a JSON log line on
the `authserver.audit` logger: an event that was rolled back never reaches the log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.logs import current_request_id
from authserver.metrics import count_audit_event
from authserver.models import AuditEvent

audit_log = logging.getLogger("authserver.audit")
_PENDING = "authserver.audit_pending"


def record(
    event_type: str,
    *,
    outcome: str = "success",
    actor_user_id: uuid.UUID | None = None,
    actor_client_id: str | None = None,
    organization_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit row to the session; the caller's commit makes it durable with the change."""
    event = AuditEvent(
        id=uuid.uuid4(),
        occurred_at=utcnow(),
        event_type=event_type,
        outcome=outcome,
        actor_user_id=actor_user_id,
        actor_client_id=actor_client_id,
        organization_id=organization_id,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    if has_request_context():
        event.ip_address = request.remote_addr
        event.user_agent = (request.user_agent.string or "")[:512] or None
        event.request_id = current_request_id()
    db.session.add(event)
    db.session.info.setdefault(_PENDING, []).append(_log_fields(event))
    return event


def _log_fields(event: AuditEvent) -> dict[str, Any]:
    """The event as its log line shows it: as the API shows it, with the IP address. Read
    now, as the commit expires the row."""
    fields = event.as_dict(with_origin=False)
    fields["event_id"] = fields.pop("id")
    fields["ip_address"] = event.ip_address
    return fields


@orm_event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for fields in session.info.pop(_PENDING, []):
        audit_log.info("audit %s", fields["event_type"], extra=fields)
        count_audit_event(fields)


@orm_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
