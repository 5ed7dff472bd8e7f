"""Deliver due outbox messages through one handler per kind, with retries and backoff.

`authserver outbox deliver` runs this as a long-running worker; the development server runs
it in a thread (start_thread) so that `make demo` needs no second process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from authserver.clock import utcnow
from authserver.errors import DATABASE_UNAVAILABLE, driver_error_name
from authserver.extensions import db
from authserver.outbox import store

log = logging.getLogger("authserver.outbox")
BATCH = 20
POLL_SECONDS = 2.0


class PermanentFailure(Exception):
    """The receiver refused for good (an unknown mailbox): retrying cannot help."""


class Handler(Protocol):
    def deliver(self, payload: dict[str, Any]) -> None:
        """Do the outside work; raise PermanentFailure or any OSError-like error to retry."""

    def redact(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What to keep of the payload once delivered (no secrets)."""


@dataclass(frozen=True)
class Report:
    delivered: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.failed


def handlers_of(app: Flask) -> Mapping[str, Handler]:
    return app.extensions["authserver.outbox_handlers"]


def deliver_due(handlers: Mapping[str, Handler], *, limit: int = BATCH) -> Report:
    """Claim a batch (committed at once, so the lease holds), deliver each, and commit each
    outcome: a crash mid-batch repeats at most the message being delivered."""
    claimed = store.claim_due(utcnow(), limit)
    db.session.commit()
    delivered = failed = 0
    for message in claimed:
        handler = handlers.get(message.kind)
        try:
            if handler is None:
                raise PermanentFailure(f"no handler for kind {message.kind!r}")
            handler.deliver(message.payload)
        except PermanentFailure as error:
            store.mark_failed(message, str(error), utcnow(), permanent=True)
            log.error("outbox %s %s given up: %s", message.kind, message.id, error)
            failed += 1
        except Exception as error:  # any failure of the outside world is worth a retry
            store.mark_failed(message, _describe(error), utcnow(), permanent=False)
            log.warning(
                "outbox %s %s attempt %d failed: %s",
                message.kind,
                message.id,
                message.attempts,
                _describe(error),
            )
            failed += 1
        else:
            store.mark_delivered(message, handler.redact(message.payload), utcnow())
            delivered += 1
        db.session.commit()
    return Report(delivered=delivered, failed=failed)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def run(app: Flask, *, once: bool = False, stop: threading.Event | None = None) -> Report:
    """Deliver until stopped (or, with `once`, until nothing is due). When nothing is due it
    waits POLL_SECONDS, or less when this process commits a new message."""
    stop = stop or threading.Event()
    delivered = failed = 0
    with app.app_context():
        while not stop.is_set():
            try:
                report = deliver_due(handlers_of(app))
            except DATABASE_UNAVAILABLE as error:
                if once:
                    raise
                db.session.rollback()
                log.warning("outbox: database unavailable (%s)", driver_error_name(error))
                report = Report()
            delivered, failed = delivered + report.delivered, failed + report.failed
            if report.handled:
                continue
            if once:
                break
            _wake.wait(POLL_SECONDS)
            _wake.clear()
        db.session.remove()
    return Report(delivered=delivered, failed=failed)


# Set after a commit that added outbox rows in this process: the thread delivers at once.
_wake = threading.Event()


@orm_event.listens_for(Session, "after_flush")
def _note_new_messages(session: Session, _context: Any) -> None:
    from authserver.models import OutboxMessage

    if any(isinstance(row, OutboxMessage) for row in session.new):
        session.info["authserver.outbox_new"] = True


@orm_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop("authserver.outbox_new", False):
        _wake.set()


@orm_event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop("authserver.outbox_new", None)


def wake() -> None:
    """End the worker's wait at once (a new message, or a stop)."""
    _wake.set()


def start_thread(app: Flask) -> Callable[[], None]:
    """The development server's in-process worker; returns a function that stops it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run, args=(app,), kwargs={"stop": stop}, name="outbox", daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        wake()
        thread.join(timeout=10)

    return halt
