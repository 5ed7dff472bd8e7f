"""`authserver outbox`: deliver the outbox (mail and back-channel logout calls), see, retry.

`authserver mail` is its old name, kept so that deployments which run `authserver mail
deliver` go on working; it is hidden from the help."""

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

outbox_cli = AppGroup(
    "outbox",
    help="The outbox: deliver mail and back-channel logout calls with retries, show, retry.",
)
mail_cli = AppGroup("mail", help="The old name of `authserver outbox`.", hidden=True)


@outbox_cli.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit (tests, cron).")
def outbox_deliver(once: bool) -> None:
    """Deliver due messages until stopped (SIGTERM or Ctrl-C ends it between messages).

    Several workers may run against PostgreSQL; on SQLite run one.
    """
    app = current_app._get_current_object()
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: (stop.set(), worker.wake()))
        click.echo("outbox: delivering (Ctrl-C to stop)")
    report = worker.run(app, once=once, stop=stop)
    click.echo(f"outbox: delivered {report.delivered}, failed {report.failed}")


@outbox_cli.command("status")
def outbox_status() -> None:
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


@outbox_cli.command("retry")
def outbox_retry() -> None:
    """Make every given-up message due again (after fixing what made it fail)."""
    revived = store.retry_given_up()
    db.session.commit()
    click.echo(f"outbox: {revived} messages due again")


for _command in outbox_cli.commands.values():
    mail_cli.add_command(_command)
