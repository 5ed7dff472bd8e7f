"""The console's first page: the counts that matter at a glance, read from the tables and
the audit log (no second store)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Response
from sqlalchemy import func, select

from authserver import metrics
from authserver.admin.console import admin, page
from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import AuditEvent, GrantFamily, RefreshToken, Session, User

WINDOWS = {"last hour": timedelta(hours=1), "last day": timedelta(days=1)}
HOURS = 24  # the charts: one bar per hour


def _count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _events(event_type: str, since: Any, *where: Any) -> int:
    return _count(
        AuditEvent, AuditEvent.event_type == event_type, AuditEvent.occurred_at >= since, *where
    )


def _hourly(now: datetime, outcome: str) -> list[int]:
    """Sign-ins with this outcome in each of the last HOURS hours, oldest first: one
    index range count each (ix_audit_events_type_time)."""
    starts = [now - timedelta(hours=HOURS - hour) for hour in range(HOURS)]
    return [
        _events(
            "sign_in",
            start,
            AuditEvent.occurred_at < start + timedelta(hours=1),
            AuditEvent.outcome == outcome,
        )
        for start in starts
    ]


def _window(since: Any) -> dict[str, int]:
    return {
        # A grant family starts at each code exchange; every refresh token issued is a row.
        "code exchanges": _count(GrantFamily, GrantFamily.created_at >= since),
        "refresh tokens issued": _count(RefreshToken, RefreshToken.created_at >= since),
        "sign-ins": _events("sign_in", since, AuditEvent.outcome == "success"),
        "failed sign-ins": _events("sign_in", since, AuditEvent.outcome == "failure"),
        "refresh reuse detected": _events(
            "token.family_revoked",
            since,
            AuditEvent.details["reason"].as_string().startswith("refresh_reuse"),
        ),
    }


@admin.get("")
@admin.get("/")
def dashboard() -> Response:
    now = utcnow()
    windows = {label: _window(now - span) for label, span in WINDOWS.items()}
    return page(
        "dashboard.html",
        people=_count(User),
        active_sessions=_count(Session, Session.expires_at > now, Session.idle_expires_at > now),
        windows=windows,
        rows=list(next(iter(windows.values()))),
        charts={"sign-ins": _hourly(now, "success"), "failed sign-ins": _hourly(now, "failure")},
        # Tokens are counted by the metrics (client_credentials tokens are stored nowhere).
        tokens=metrics.totals("authserver_tokens_issued_total")
        if current_settings().metrics
        else None,
    )
