"""`authserver audit tail`: read the audit log from a shell, newest last, optionally following."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import click
from flask.cli import AppGroup

from authserver.extensions import db
from authserver.models import AuditEvent

audit_cli = AppGroup("audit", help="The audit log.")
FOLLOW_INTERVAL = 1.0


@audit_cli.command("tail")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--type", "type_prefix", help="Only event types starting with this, e.g. token.")
@click.option("--org", "organization", help="Only events of this organization (its id).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_tail(
    limit: int, type_prefix: str | None, organization: str | None, follow: bool, as_json: bool
) -> None:
    """Print the newest events, oldest first (with IP address and user agent)."""
    try:
        organization_id = uuid.UUID(organization) if organization else None
    except ValueError:
        raise click.BadParameter("must be an organization id", param_hint="--org") from None
    filters = {"organization_id": organization_id, "type_prefix": type_prefix}
    events = list(reversed(AuditEvent.page(limit=limit, **filters)))
    _print(events, as_json)
    last = _key(events[-1]) if events else None
    while follow:
        db.session.rollback()  # a new transaction sees what others committed since
        time.sleep(FOLLOW_INTERVAL)
        if last is None:
            events = list(reversed(AuditEvent.page(limit=limit, **filters)))
        else:
            events = AuditEvent.page(after=last, limit=500, **filters)
        _print(events, as_json)
        last = _key(events[-1]) if events else last


def _key(event: AuditEvent) -> tuple[datetime, uuid.UUID]:
    return event.occurred_at, event.id


def _print(events: list[AuditEvent], as_json: bool) -> None:
    for event in events:
        shown = event.as_dict()
        if as_json:
            click.echo(json.dumps(shown, sort_keys=True))
            continue
        actor = shown["actor_user_id"] or shown["actor_client_id"] or "-"
        target = f"{shown['target_type']}:{shown['target_id']}" if shown["target_type"] else "-"
        details = json.dumps(shown["details"], sort_keys=True) if shown["details"] else ""
        click.echo(
            f"{shown['occurred_at']}  {event.event_type:24} {event.outcome:8} "
            f"actor={actor} target={target} ip={shown['ip_address'] or '-'} {details}".rstrip()
        )
