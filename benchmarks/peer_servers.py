"""node-oidc-provider, the peer the token paths are measured against (benchmarks/peers/):
installed with `npm ci` into a scratch copy of that folder, started one process at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.processes import stop, wait_until_answers

PEERS_DIR = Path(__file__).resolve().parent / "peers"
# Refresh tokens op-pg.mjs mints per second of --duration and per concurrency: it answered
# 200-520 refreshes a second in issue 16's runs and 1,178 on a faster VM (2026-12-01, whose
# c=64 run spent all of 1,200 a second); a run that spends them all is an error.
REFRESH_STOCK_PER_SECOND = 3000
MINTED_PER_SECOND = 400  # the slowest minting seen on a busy machine, to wait long enough


class Unavailable(Exception):
    """The peers cannot run on this machine; the message says why."""


def install(work: Path) -> Path:
    """benchmarks/peers copied to `work` (never node_modules), its lock file installed there."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is missing (the peers need Node.js 20 or later and npm)")
    shutil.copytree(PEERS_DIR, work, ignore=shutil.ignore_patterns("node_modules", "*.log"))
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=work, capture_output=True, text=True
    )
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"npm ci failed in {work}: {why}")
    return work


def node_versions(work: Path) -> str:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    package = work / "node_modules" / "oidc-provider" / "package.json"
    provider = json.loads(package.read_text())["version"] if package.exists() else "unknown"
    return f"Node.js {node}, oidc-provider {provider}"


@contextmanager
def serving(work: Path, script: str, port: int, **env: str) -> Iterator[None]:
    """`node script` on 127.0.0.1:port, one process, stopped by its PID when the block ends.
    op-pg.mjs listens only once it has minted its refresh tokens (env N)."""
    log = work / f"{script}.{port}.log"
    environment = {**os.environ, "PORT": str(port), **env}
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["node", script], cwd=work, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        minting = int(env.get("N", "0")) / MINTED_PER_SECOND
        wait_until_answers(
            f"http://127.0.0.1:{port}/.well-known/openid-configuration",
            process,
            log,
            timeout=30 + minting,
        )
        yield
    finally:
        stop(process)
