"""record(): write an audit event in the caller's unit of work. Never pass it a secret."""

from __future__ import annotations

import uuid
from typing import Any

from flask import has_request_context, request

from authserver.extensions import db
from authserver.models import AuditEvent


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
        event.request_id = request.headers.get("X-Request-ID", "")[:64] or None
    db.session.add(event)
    return event
