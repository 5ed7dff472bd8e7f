"""Forwarded headers count only from the number of proxies AUTHSERVER_TRUSTED_PROXIES names:
they decide the client address that rate limits, audit events and logs see."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request

from authserver import create_app
from authserver.config import ConfigError
from tests.conftest import make_settings


def remote_addr_seen(tmp: Path, trusted_proxies: str, headers: dict[str, str]) -> str:
    app: Flask = create_app(
        make_settings(tmp, f"sqlite:///{tmp}/db.sqlite", trusted_proxies=trusted_proxies)
    )
    seen: list[str] = []
    app.add_url_rule("/whoami", "whoami", lambda: seen.append(request.remote_addr) or "")
    app.test_client().get("/whoami", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    return seen[0]


def test_without_trusted_proxies_forwarded_for_is_ignored(tmp_path: Path) -> None:
    seen = remote_addr_seen(tmp_path, "0", {"X-Forwarded-For": "203.0.113.9"})
    assert seen == "10.0.0.2"


def test_one_trusted_proxy_gives_the_address_it_saw(tmp_path: Path) -> None:
    # A client may send its own X-Forwarded-For; the proxy appends what it saw.
    forwarded = {"X-Forwarded-For": "198.51.100.66, 203.0.113.9"}
    assert remote_addr_seen(tmp_path, "1", forwarded) == "203.0.113.9"


@pytest.mark.parametrize("value", ["-1", "6", "two"])
def test_a_bad_proxy_count_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="AUTHSERVER_TRUSTED_PROXIES"):
        make_settings(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", trusted_proxies=value)
