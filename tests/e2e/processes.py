"""Real server processes for end-to-end tests: `authserver serve` or gunicorn on a free
loopback port, started and stopped by the test (by PID), with their output in a log file."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Chromium on a closed network: no background traffic, no sandbox as root (env README).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A loopback port no one listens on, for a server the test starts a little later.

    Taken below the kernel's ephemeral range, where no bind() to port 0 and no outgoing
    connection is given a port: a port from bind(0), closed here and bound by the server
    seconds later (after `authserver init`), could meanwhile go to another test's server
    in another xdist worker. Each worker counts through a block of its own."""
    for port in _ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # someone else's service
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def _ports_of_this_worker() -> Iterator[int]:
    """This xdist worker's block of ports under the ephemeral range, from a random place in
    it (another run of the suite at the same time walks the same block, from elsewhere)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % _WORKERS if worker.isdigit() else 0
    first = max(1024, low - _WORKERS * _BLOCK) + index * _BLOCK
    ports = list(range(first, min(first + _BLOCK, low)))
    at = random.randrange(len(ports))
    yield from ports[at:] + ports[:at]


_BLOCK, _WORKERS = 1000, 8
_ports = _ports_of_this_worker()


def server_env(tmp: Path, database_url: str, issuer: str, **extra: str) -> dict[str, str]:
    """The environment of one deployment: every instance started with it shares the
    database, the keys directory and the secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env.update(
        AUTHSERVER_DATABASE_URL=database_url,
        AUTHSERVER_INSTANCE_DIR=str(tmp / "instance"),
        AUTHSERVER_KEYS_DIR=str(tmp / "keys"),
        AUTHSERVER_SECRET_KEY="e2e-secret-key-" + "x" * 32,
        AUTHSERVER_ISSUER=issuer,
        AUTHSERVER_KEY_RELOAD_INTERVAL="0",
    )
    env.update({f"AUTHSERVER_{k.upper()}": v for k, v in extra.items()})
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "authserver", *args],
        env=env,
        cwd=PROJECT_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Server:
    """A server process of the test's own, on loopback, ended by its PID."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait()

    @classmethod
    def development(cls, env: dict[str, str], port: int, log: Path) -> Server:
        """`authserver serve`, as `make demo` runs it."""
        command = [sys.executable, "-m", "authserver", "serve", "--port", str(port)]
        return cls(command, env, port, log)

    @classmethod
    def gunicorn(cls, env: dict[str, str], port: int, log: Path, workers: int = 2) -> Server:
        """gunicorn with the project's gunicorn.conf.py, as production runs it."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ]
        return cls(command, env, port, log)

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=2).read()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the server did not start; see {self.log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """End the process; then its log must hold no line that logging failed to write
        (a format that raised loses what the server had to say)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        assert "--- Logging error ---" not in self.log.read_text(errors="replace"), (
            f"the server could not write some of its log lines; see {self.log}"
        )
