"""gunicorn.conf.py as gunicorn itself reads it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.app.base import Application

from gunicorn_worker import BoundedThreadWorker, ConnectionCounts

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


class ConfOnly(Application):
    """gunicorn's application, reading the config file alone (no command line, no app)."""

    def load_config(self) -> None:
        self.load_config_from_file(str(CONF))

    def load(self) -> None:
        raise AssertionError("not loaded here")


def test_no_control_socket_unless_one_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every instance on a host would share gunicorn's default control socket path."""
    monkeypatch.delenv("AUTHSERVER_GUNICORN_CONTROL_SOCKET", raising=False)
    assert ConfOnly().cfg.control_socket_disable is True

    monkeypatch.setenv("AUTHSERVER_GUNICORN_CONTROL_SOCKET", "/run/authserver/a.ctl")
    given = ConfOnly().cfg
    assert given.control_socket_disable is False
    assert given.control_socket == "/run/authserver/a.ctl"


def test_the_master_frees_a_reaped_workers_connection_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However the worker ended, before its PID can go to another process (a slot held by
    a reused PID would count for ever)."""
    monkeypatch.delenv("AUTHSERVER_METRICS", raising=False)
    counts = ConnectionCounts()
    monkeypatch.setattr(BoundedThreadWorker, "counts", counts)
    me = counts.claim(os.getpid())
    with subprocess.Popen(["sleep", "30"]) as reaped:  # alive, as a reused PID would be
        try:
            counts.record(counts.claim(reaped.pid), 3)
            assert counts.fewest_elsewhere(me) == 3
            ConfOnly().cfg.child_exit(None, SimpleNamespace(pid=reaped.pid))
            assert counts.fewest_elsewhere(me) is None
        finally:
            reaped.kill()
