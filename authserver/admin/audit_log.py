"""Console pages for the audit log: filter, page newest first, export as JSON lines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, request, stream_with_context, url_for

from authserver.admin.console import PAGE_SIZE, admin, page, text_arg
from authserver.models import AuditEvent, Organization, User

EXPORT_BATCH = 500
FILTERS = ("type", "actor", "org", "target", "since", "until")


def _time(name: str) -> datetime | None:
    """An ISO 8601 date or time (naive means UTC), e.g. 2026-12-01 or 2026-12-01T09:30."""
    raw = text_arg(name, limit=40)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        abort(400, f"{name} must be a date or time like 2026-12-01T09:30.")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _actor(raw: str) -> str | None:
    """A person's id or email, or a client id."""
    if not raw:
        return None
    if "@" in raw:
        user = User.find_by_email(raw)
        return str(user.id) if user else str(uuid.UUID(int=0))  # nobody: no events
    return raw


def _organization(raw: str) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        found = Organization.find_by_slug(raw)
        return found.id if found else uuid.UUID(int=0)


def _target(raw: str) -> dict[str, str]:
    """`type:id` (user:…, client:…, key:…) or just an id."""
    if not raw:
        return {}
    kind, sep, target_id = raw.partition(":")
    return {"target_type": kind, "target_id": target_id} if sep else {"target_id": raw}


def _filters() -> dict[str, Any]:
    return {
        "type_prefix": text_arg("type", limit=64) or None,
        "actor": _actor(text_arg("actor")),
        "organization_id": _organization(text_arg("org")),
        "since": _time("since"),
        "until": _time("until"),
        **_target(text_arg("target")),
    }


def _cursor() -> tuple[datetime, uuid.UUID] | None:
    raw = text_arg("before", limit=100)
    if not raw:
        return None
    at, _, event_id = raw.partition("|")
    try:
        return datetime.fromisoformat(at), uuid.UUID(event_id)
    except ValueError:
        abort(400, "before is not a page of this log.")


@admin.get("/audit")
def audit_log() -> Response:
    filters = _filters()
    events = AuditEvent.page(before=_cursor(), limit=PAGE_SIZE + 1, **filters)
    shown = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    following = None
    if len(events) > PAGE_SIZE:
        last = events[PAGE_SIZE - 1]
        following = url_for(
            "admin.audit_log", before=f"{last.occurred_at.isoformat()}|{last.id}", **shown
        )
    return page(
        "audit.html",
        events=events[:PAGE_SIZE],
        shown=shown,
        following=following,
        export=url_for("admin.export_audit_log", **shown),
    )


@admin.get("/audit/export")
def export_audit_log() -> Response:
    """Every event that passes the filters, newest first, one JSON object per line."""
    filters = _filters()

    def lines() -> Iterator[str]:
        cursor = None
        while True:
            batch = AuditEvent.page(before=cursor, limit=EXPORT_BATCH, **filters)
            for event in batch:
                yield json.dumps(event.as_dict(), sort_keys=True) + "\n"
            if len(batch) < EXPORT_BATCH:
                return
            cursor = (batch[-1].occurred_at, batch[-1].id)

    return Response(
        stream_with_context(lines()),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
