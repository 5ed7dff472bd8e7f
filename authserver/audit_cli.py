"""`authserver audit tail`: read the audit log from a shell, newest last, optionally following."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import click
from flask.cli import AppGroup

from authserver.extensions import db
from authserver.models import AuditEvent
from authserver.numbers import AsciiIntRange, ascii_uuid

audit_cli = AppGroup("audit", help="The audit log.")
FOLLOW_INTERVAL = 1.0
FOLLOW_PAGE = 500
# Longer than a transaction that records an audit event stays open (they are one request
# or one command); each poll reads this much history again.
LOOKBACK = timedelta(seconds=10)


@audit_cli.command("tail")
@click.option("-n", "--limit", default=20, show_default=True, type=AsciiIntRange(1, 10_000))
@click.option("--type", "type_prefix", help="Only event types starting with this, e.g. token.")
@click.option("--org", "organization", help="Only events of this organization (its id).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_tail(
    limit: int, type_prefix: str | None, organization: str | None, follow: bool, as_json: bool
) -> None:
    """Print the newest events, oldest first (with IP address and user agent)."""
    try:
        organization_id = ascii_uuid(organization) if organization else None
    except ValueError:
        raise click.BadParameter("must be an organization id", param_hint="--org") from None
    filters = {"organization_id": organization_id, "type_prefix": type_prefix}
    events = list(reversed(AuditEvent.page(limit=limit, **filters)))
    _print(events, as_json)
    follower = Follower(filters, events)
    while follow:
        db.session.rollback()  # a new transaction sees what others committed since
        time.sleep(FOLLOW_INTERVAL)
        _print(follower.poll(), as_json)


class Follower:
    """New events since the last poll. An event is stamped when it is recorded but seen
    when its transaction commits, so one can appear behind events already printed: each
    poll reads back LOOKBACK from the newest one printed and skips what it printed."""

    def __init__(self, filters: dict[str, Any], printed: list[AuditEvent]) -> None:
        self.filters = filters
        self.printed = {event.id: event.occurred_at for event in printed}

    def poll(self) -> list[AuditEvent]:
        if not self.printed:
            new = list(reversed(AuditEvent.page(limit=FOLLOW_PAGE, **self.filters)))
        else:
            new = [event for event in self._since_lookback() if event.id not in self.printed]
        self.printed.update((event.id, event.occurred_at) for event in new)
        self._forget_old()
        return new

    def _since_lookback(self) -> list[AuditEvent]:
        key = (max(self.printed.values()) - LOOKBACK, uuid.UUID(int=0))
        read: list[AuditEvent] = []
        while True:
            page = AuditEvent.page(after=key, limit=FOLLOW_PAGE, **self.filters)
            read += page
            if len(page) < FOLLOW_PAGE:
                return read
            key = (page[-1].occurred_at, page[-1].id)

    def _forget_old(self) -> None:
        if not self.printed:
            return
        horizon = max(self.printed.values()) - LOOKBACK
        self.printed = {id_: at for id_, at in self.printed.items() if at >= horizon}


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
