"""`authserver audit tail`: the newest events from a shell, filtered, as text or JSON, and
following new ones."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from datetime import timedelta

from flask import Flask

from authserver import audit
from authserver.audit_cli import Follower
from authserver.clock import utcnow
from authserver.extensions import db
from tests.cli.conftest import PROJECT_ROOT, Operator, one_line_error


def make_events(op: Operator) -> None:
    op.ok("clients", "create", "--name", "Notes", "--redirect-uri", "https://a.example/cb")
    op.ok("keys", "rotate")


def test_tail_prints_the_newest_events_oldest_first(initialized: Operator) -> None:
    make_events(initialized)
    lines = initialized.ok("audit", "tail", "-n", "2").splitlines()
    assert [line.split()[1] for line in lines] == ["client.created", "key.rotated"]
    assert "target=client:" in lines[0]


def test_tail_filters_by_type_and_prints_json(initialized: Operator) -> None:
    make_events(initialized)
    out = initialized.ok("audit", "tail", "--type", "key.", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert {event["event_type"] for event in events} == {"key.rotated"}
    assert {"ip_address", "user_agent", "details", "occurred_at"} <= set(events[0])


def test_tail_refuses_an_org_that_is_not_an_id(initialized: Operator) -> None:
    result = initialized.run("audit", "tail", "--org", "acme")
    assert result.returncode == 2 and "--org" in one_line_error(result)


def test_tail_follows_new_events(initialized: Operator) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "authserver", "audit", "tail", "--follow", "--json"],
        env=initialized.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)  # let it print the (empty) history and start following
        initialized.ok(
            "clients", "create", "--name", "Late", "--redirect-uri", "https://b.example/cb"
        )
        selector = selectors.DefaultSelector()
        selector.register(follower.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=20), "no event followed"
        assert json.loads(follower.stdout.readline())["event_type"] == "client.created"
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_following_prints_an_event_committed_after_a_newer_one(app: Flask) -> None:
    # A request records its event when it starts working and commits it later; a follower
    # that only read forward from the newest event it printed would skip it.
    follower = Follower({"organization_id": None, "type_prefix": None}, [])
    audit.record("first.event")
    db.session.commit()
    assert [event.event_type for event in follower.poll()] == ["first.event"]

    late = audit.record("late.event")
    late.occurred_at = utcnow() - timedelta(seconds=3)
    db.session.commit()
    assert [event.event_type for event in follower.poll()] == ["late.event"]
    assert follower.poll() == []
