"""Today's code: authserver as it was at the baseline commit (benchmarks/baseline.json), unpacked
from git into the run's scratch folder and served beside the current code in the same run, so
that "introspection and userinfo at twice today's figures" compares two figures measured
side by side on the same machine, not one against a figure from another day's load.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

from benchmarks.fixtures import Seed

ROOT = Path(__file__).resolve().parents[1]

# Run with today's code: the same fixtures as the benchmark's own, and one refresh token for
# the access token that introspection and userinfo send.
_SEED = """
import dataclasses, json, logging, os
from authserver import create_app
from authserver.config import Settings
from benchmarks import fixtures
app = create_app(Settings.from_env(dict(os.environ)))
logging.getLogger("authserver").setLevel(logging.WARNING)
seed = fixtures.seed(app)
raw = fixtures.mint_refresh_tokens(app, seed, 1)[0]
fields = {k: str(v) for k, v in dataclasses.asdict(seed).items()}
print(json.dumps({"seed": fields, "refresh_token": raw}))
"""


def unpack(commit: str, into: Path) -> Path:
    """The tree of `commit`, from this checkout's git, written to `into`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def prepare(code: Path, env: dict[str, str]) -> tuple[Seed, str]:
    """`authserver init` and the benchmark's people and clients, with today's code on its
    own database (env); returns them and a refresh token."""
    for args in (["-m", "authserver", "init"], ["-c", _SEED]):
        result = subprocess.run(
            [sys.executable, *args], cwd=code, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            why = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"today's code at {code}: {' '.join(args[:2])} failed: {why}")
    made = json.loads(result.stdout.strip().splitlines()[-1])
    fields = made["seed"]
    seed = Seed(**{**fields, "user_id": uuid.UUID(fields["user_id"])})
    return seed, made["refresh_token"]
