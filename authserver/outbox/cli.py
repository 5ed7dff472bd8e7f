"""`authserver mail`: deliver the outbox (mail, and later other outside work), see, retry."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models import OutboxMessage
from authserver.outbox import store, worker

mail_cli = AppGroup("mail", help="The outbox: deliver mail with retries, show, retry.")


@mail_cli.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit (tests, cron).")
def mail_deliver(once: bool) -> None:
    """Deliver due messages until stopped (SIGTERM or Ctrl-C ends it between messages).

    Several workers may run against PostgreSQL; on SQLite run one.
    """
    app = current_app._get_current_object()
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: (stop.set(), worker.wake()))
        click.echo("mail: delivering (Ctrl-C to stop)")
    report = worker.run(app, once=once, stop=stop)
    click.echo(f"mail: delivered {report.delivered}, failed {report.failed}")


@mail_cli.command("status")
def mail_status() -> None:
    """Count messages waiting, given up and delivered."""
    waiting = _count(
        OutboxMessage.delivered_at.is_(None), OutboxMessage.next_attempt_at.is_not(None)
    )
    given_up = _count(OutboxMessage.delivered_at.is_(None), OutboxMessage.next_attempt_at.is_(None))
    delivered = _count(OutboxMessage.delivered_at.is_not(None))
    click.echo(f"waiting {waiting}, given up {given_up}, delivered {delivered}")
    for message in OutboxMessage.given_up():
        click.echo(
            f"given up: {message.id} {message.kind} after {message.attempts} attempts: "
            f"{message.last_error}"
        )


def _count(*conditions: object) -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(*conditions))


@mail_cli.command("retry")
def mail_retry() -> None:
    """Make every given-up message due again (after fixing what made it fail)."""
    revived = store.retry_given_up()
    db.session.commit()
    click.echo(f"mail: {revived} messages due again")
