"""Count the CPU instructions one request of a scenario costs authserver's worker, with
valgrind's cachegrind: a figure that does not move with the load on a shared machine, where
req/s and CPU seconds swing by a fifth from one run to the next.

    python -m benchmarks.cost "token: refresh_token" [--requests 200]

The scenario runs twice in a fresh process under cachegrind, on a scratch PostgreSQL
database: once with N measured requests and once with 2N, after the same set-up and warm-up.
The difference of the two totals, divided by N, is the cost of one request in the WSGI app
(Flask, Authlib, our code, the driver), without start-up, imports or test-client work.
PostgreSQL's own work is not in it (another process): `benchmarks.profile` reports that.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from werkzeug.test import EnvironBuilder

from authserver import create_app
from authserver.config import Settings
from benchmarks import fixtures
from benchmarks.run import ROOT, bench_env, run_cli, scratch_database
from benchmarks.scenarios import SCENARIOS, Scenario, basic

WARM_UP = 50
_INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[s.name for s in SCENARIOS if s.app != "hello"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    if args.inner is not None:
        run_batch(scenario, measured=args.inner, stock=WARM_UP + 2 * args.requests)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is missing: apt-get install valgrind")
    once = instructions(scenario, args.requests, args.requests)
    twice = instructions(scenario, args.requests, 2 * args.requests)
    per_request = (twice - once) / args.requests
    print(f"{scenario.name}: {per_request / 1e6:.2f} M instructions per request")


def instructions(scenario: Scenario, requests: int, measured: int) -> int:
    """The total instruction count of one process running the scenario."""
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.cost", scenario.name,
        "--requests", str(requests), "--inner", str(measured),
    ]  # fmt: skip
    # A fixed hash seed: dict and set layouts, and so the instructions, repeat run to run.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    found = _INSTRUCTIONS.search(result.stderr)
    if result.returncode != 0 or found is None:
        sys.exit(f"the measured process failed:\n{result.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def run_batch(scenario: Scenario, *, measured: int, stock: int) -> None:
    """Set up, warm up, then send `measured` requests straight to the WSGI app."""
    with scratch_database() as database_url, tempfile.TemporaryDirectory() as tmp:
        env = bench_env(Path(tmp), database_url, 8000)
        run_cli(env, "init")
        if scenario.alg != "RS256":
            run_cli(env, "keys", "rotate", "--alg", scenario.alg, "--now")
        app = create_app(Settings.from_env(env))
        lines = _lines(scenario, app, stock)
        environs = [_environ(scenario, auth, body) for auth, body in lines]
        _send(app, environs[:WARM_UP], scenario.expected_4xx)
        _send(app, environs[WARM_UP : WARM_UP + measured], scenario.expected_4xx)


def _lines(scenario: Scenario, app: object, stock: int) -> list[tuple[str, str]]:
    seed = fixtures.seed(app)
    refresh = fixtures.mint_refresh_tokens(app, seed, 1)[0]
    client = app.test_client()
    answer = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"Authorization": basic(seed.web_client_id, seed.web_secret)},
    )
    extra = {"access_token": answer.json["access_token"]}
    tokens: list[str] = []
    if scenario.one_use:
        mint = fixtures.mint_refresh_tokens if "refresh" in scenario.name else fixtures.mint_codes
        tokens = mint(app, seed, stock)
    lines = scenario.lines(seed, extra, tokens)
    return [lines[n % len(lines)] for n in range(stock)]


def _environ(scenario: Scenario, auth: str, body: str) -> dict:
    headers = {"Authorization": auth} if auth else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    builder = EnvironBuilder(
        path=scenario.path, method=scenario.method, headers=headers, data=body or None
    )
    environ = builder.get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return environ


def _send(app: object, environs: list[dict], expected_4xx: bool) -> None:
    """Each environ once (its body stream is read)."""

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        if not expected_4xx and not status.startswith("2"):
            raise SystemExit(f"unexpected status {status}")

    for environ in environs:
        for _chunk in app(environ, start_response):
            pass


if __name__ == "__main__":
    main()
