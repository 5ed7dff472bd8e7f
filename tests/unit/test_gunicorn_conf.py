"""gunicorn.conf.py as gunicorn itself reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gunicorn.app.base import Application

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
