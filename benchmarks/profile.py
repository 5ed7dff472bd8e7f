"""Profile one scenario's hot path in-process with pyinstrument, against a scratch
PostgreSQL database; prints the call tree and the CPU time per request.

    python -m benchmarks.profile "token: refresh_token" [--requests 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler

from authserver import create_app
from authserver.config import Settings
from benchmarks import fixtures
from benchmarks.run import bench_env, run_cli, scratch_database
from benchmarks.scenarios import SCENARIOS, Scenario, basic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[s.name for s in SCENARIOS if s.app != "hello"])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    with scratch_database() as database_url, tempfile.TemporaryDirectory() as tmp:
        env = bench_env(Path(tmp), database_url, 8000)
        run_cli(env, "init")
        if scenario.alg != "RS256":
            run_cli(env, "keys", "rotate", "--alg", scenario.alg, "--now")
        profile(scenario, create_app(Settings.from_env(env)), args.requests)


def profile(scenario: Scenario, app: object, count: int) -> None:
    seed = fixtures.seed(app)
    http = app.test_client()
    refresh = fixtures.mint_refresh_tokens(app, seed, 1)[0]
    answer = http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"Authorization": basic(seed.web_client_id, seed.web_secret)},
    )
    extra = {"access_token": answer.json["access_token"]}
    tokens = []
    if scenario.one_use:
        mint = fixtures.mint_refresh_tokens if "refresh" in scenario.name else fixtures.mint_codes
        tokens = mint(app, seed, 2 * count)
    lines = scenario.lines(seed, extra, tokens)

    def send(batch: list[tuple[str, str]]) -> None:
        for n in range(count):
            auth, body = batch[n % len(batch)]
            headers = {"Authorization": auth} if auth else {}
            if body:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = http.open(scenario.path, method=scenario.method, data=body, headers=headers)
            assert response.status_code < 400, response.data

    send(lines[count:] if scenario.one_use else lines)  # warm every cache a worker would have
    profiler = Profiler(interval=0.0005)
    started = time.process_time()
    profiler.start()
    send(lines[:count])
    profiler.stop()
    print(f"{(time.process_time() - started) / count * 1000:.2f} ms CPU per request (profiled)")
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
