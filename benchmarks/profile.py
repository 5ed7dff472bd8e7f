"""Profile one scenario's hot path in-process with pyinstrument, against a scratch
PostgreSQL database; prints the CPU time per request, in this process and in the
PostgreSQL backends it talks to, then the call tree.

    python -m benchmarks.profile "token: refresh_token" [--requests 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg
from pyinstrument import Profiler
from sqlalchemy.engine import make_url

from authserver import create_app
from authserver.config import Settings
from benchmarks import cpu, fixtures
from benchmarks.run import ADMIN_URL, bench_env, run_cli, scratch_database
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
        database = make_url(database_url).database or ""
        profile(scenario, create_app(Settings.from_env(env)), args.requests, database)


def postgres_cpu_seconds(database: str) -> float | None:
    """CPU time used so far by the PostgreSQL backends serving `database`, read from /proc
    (the benchmark's server runs on this machine); None where that cannot be read."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    processes = cpu.snapshot()
    if any(pid not in processes for (pid,) in rows):
        return None
    return sum(processes[pid].seconds for (pid,) in rows)


def profile(scenario: Scenario, app: object, count: int, database: str) -> None:
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
        tokens = mint(app, seed, 3 * count)
    lines = scenario.lines(seed, extra, tokens)

    def send(batch: list[tuple[str, str]]) -> None:
        for n in range(count):
            auth, body = batch[n % len(batch)]
            headers = {"Authorization": auth} if auth else {}
            if body:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = http.open(scenario.path, method=scenario.method, data=body, headers=headers)
            assert response.status_code < 400, response.data

    send(lines[2 * count :] if scenario.one_use else lines)  # warm every cache a worker has
    started, postgres_before = time.process_time(), postgres_cpu_seconds(database)
    send(lines[count : 2 * count] if scenario.one_use else lines)
    in_process = (time.process_time() - started) / count * 1000
    postgres_after = postgres_cpu_seconds(database)
    in_postgres = (
        f"{(postgres_after - postgres_before) / count * 1000:.2f} ms"
        if postgres_before is not None and postgres_after is not None
        else "(not readable)"
    )
    print(f"{in_process:.2f} ms CPU per request in this process, {in_postgres} in PostgreSQL")
    profiler = Profiler(interval=0.0005)
    started = time.process_time()
    profiler.start()
    send(lines[:count])
    profiler.stop()
    print(f"{(time.process_time() - started) / count * 1000:.2f} ms CPU per request (profiled)")
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
