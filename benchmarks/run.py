"""Run the load benchmarks and write benchmarks/RESULTS.md.

gunicorn serves authserver on a fresh PostgreSQL database and, with the same settings, a bare
Flask route (the ceiling); wrk on loopback drives each scenario for a fixed time at each
concurrency. SQL statements per request are counted in-process for every scenario.

    python -m benchmarks.run [--duration 15] [--concurrency 16 64] [--workers 4]

This is a measurement, not a test: it never fails on a missed target, it reports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from authserver import create_app
from authserver.config import Settings
from benchmarks import fixtures, statements
from benchmarks.scenarios import SCENARIOS, Scenario, basic, malformed_requests

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
ADMIN_URL = os.environ.get(
    "AUTHSERVER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
P99_LIMIT_MS = 50.0
ONE_USE_STOCK = 60_000  # codes or refresh tokens per run: more than a run can spend


@dataclass
class Result:
    scenario: Scenario
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: int
    ratio: float | None = None

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs Debian's wrk package")
    with scratch_database() as database_url, tempfile.TemporaryDirectory() as tmp:
        results, counts = Bench(args, Path(tmp), database_url).run()
    write_results(args, results, counts)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped after it."""
    database = f"authserver_bench_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        yield make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def bench_env(tmp: Path, database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHSERVER_")}
    env.update(
        AUTHSERVER_DATABASE_URL=database_url,
        AUTHSERVER_INSTANCE_DIR=str(tmp / "instance"),
        AUTHSERVER_KEYS_DIR=str(tmp / "keys"),
        AUTHSERVER_SECRET_KEY=secrets.token_urlsafe(32),
        AUTHSERVER_ISSUER=f"http://127.0.0.1:{port}",
        AUTHSERVER_CODE_TTL="600",  # codes are minted before the scenario that spends them
        AUTHSERVER_TOKEN_RATE_LIMIT="off",  # one client sends every request of a scenario
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "authserver", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py")
    parser.add_argument("--worker-class", default=None, help="default: gunicorn.conf.py")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="default: gunicorn.conf.py; give 1 with --worker-class sync, or gunicorn runs gthread",
    )
    parser.add_argument("--only", nargs="*", default=None, help="scenario name prefixes")
    return parser.parse_args()


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, database_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.port = _free_port()
        self.env = bench_env(tmp, database_url, self.port)
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self) -> tuple[list[Result], dict[str, statements.Counts]]:
        self._cli("init")
        self.app = create_app(Settings.from_env(self.env))
        # The in-process app only mints fixtures and counts statements: no request log.
        logging.getLogger("authserver").setLevel(logging.WARNING)
        self.seed = fixtures.seed(self.app)
        hello_port = _free_port()
        try:
            self._gunicorn("wsgi:app", self.port)
            self._gunicorn("benchmarks.hello:app", hello_port)
            self.extra = {"access_token": self._access_token()}
            self._check_malformed()
            results = []
            for scenario in self._scenarios():
                self._use_alg(scenario.alg)
                port = hello_port if scenario.app == "hello" else self.port
                for concurrency in self.args.concurrency:
                    results.append(self._load(scenario, port, concurrency))
                    print(_line(results[-1]), flush=True)
            counts = self._count_statements()
        finally:
            for process in self.processes:
                process.terminate()
                process.wait(timeout=30)
        _set_ratios(results)
        return results, counts

    def _scenarios(self) -> list[Scenario]:
        if not self.args.only:
            return list(SCENARIOS)
        wanted = [s for s in SCENARIOS if any(s.name.startswith(o) for o in self.args.only)]
        return [SCENARIOS[0], *[s for s in wanted if s is not SCENARIOS[0]]]

    def _cli(self, *args: str) -> str:
        return run_cli(self.env, *args)

    def gunicorn_options(self) -> list[str]:
        options = ["--config", str(ROOT / "gunicorn.conf.py")]
        if self.args.workers:
            options += ["--workers", str(self.args.workers)]
        if self.args.worker_class:
            options += ["--worker-class", self.args.worker_class]
        if self.args.threads:
            options += ["--threads", str(self.args.threads)]
        return options

    def _gunicorn(self, app: str, port: int) -> None:
        command = [
            sys.executable, "-m", "gunicorn", *self.gunicorn_options(),
            "--bind", f"127.0.0.1:{port}", app,
        ]  # fmt: skip
        log = (self.tmp / f"gunicorn-{port}.log").open("ab")
        self.processes.append(
            subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        )
        path = "/hello" if app.startswith("benchmarks") else "/readyz"
        _wait_for(f"http://127.0.0.1:{port}{path}")

    def _post_token(self, auth: str, body: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/token",
            data=body.encode(),
            headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def _access_token(self) -> str:
        """A real access token for userinfo and introspection, from one refresh."""
        raw = fixtures.mint_refresh_tokens(self.app, self.seed, 1)[0]
        auth = basic(self.seed.web_client_id, self.seed.web_secret)
        status, body = self._post_token(auth, f"grant_type=refresh_token&refresh_token={raw}")
        if status != 200:
            raise RuntimeError(f"could not get an access token: {body}")
        return body["access_token"]

    def _check_malformed(self) -> None:
        """Each malformed request once: it must get the status and error named for it."""
        for (auth, body), status, error in malformed_requests(self.seed):
            got, answer = self._post_token(auth, body)
            if (got, answer.get("error")) != (status, error):
                raise RuntimeError(f"{body!r} got {got} {answer}, not {status} {error}")

    def _use_alg(self, alg: str) -> None:
        """Rotate to a key of `alg` (signing at once) and wait until every worker signs
        with it."""
        if self._signing_alg() == alg:
            return
        self._cli("keys", "rotate", "--alg", alg, "--now")
        deadline = time.monotonic() + 30
        while sum(self._signing_alg() == alg for _ in range(20)) < 20:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not switch to {alg}")
            time.sleep(0.5)

    def _signing_alg(self) -> str:
        auth = basic(self.seed.service_client_id, self.seed.service_secret)
        _, body = self._post_token(auth, "grant_type=client_credentials")
        header = body["access_token"].split(".")[0]
        return json.loads(_b64decode(header))["alg"]

    def _lines(self, scenario: Scenario, tokens: list[str]) -> list[tuple[str, str]]:
        return scenario.lines(self.seed, self.extra, tokens)

    def _one_use_tokens(self, scenario: Scenario, count: int) -> list[str]:
        if not scenario.one_use:
            return []
        if "refresh" in scenario.name:
            return fixtures.mint_refresh_tokens(self.app, self.seed, count)
        return fixtures.mint_codes(self.app, self.seed, count)

    def _load(self, scenario: Scenario, port: int, concurrency: int) -> Result:
        lines = self._lines(scenario, self._one_use_tokens(scenario, ONE_USE_STOCK))
        requests_file = self.tmp / "requests.txt"
        requests_file.write_text("".join(f"{auth}\t{body}\n" for auth, body in lines))
        command = [
            "wrk", "--threads", "1", "--connections", str(concurrency),
            "--duration", f"{self.args.duration}s", "--timeout", "10s",
            "--script", str(HERE / "requests.lua"), f"http://127.0.0.1:{port}",
            "--", scenario.method, scenario.path, str(requests_file),
            "once" if scenario.one_use else "cycle",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        report = json.loads(output.strip().splitlines()[-1])
        if scenario.one_use and report["requests"] >= len(lines):
            raise RuntimeError(f"{scenario.name}: raise ONE_USE_STOCK, the run used them all")
        return Result(
            scenario=scenario,
            concurrency=concurrency,
            rps=report["requests"] / (report["duration_us"] / 1e6),
            p50_ms=report["p50_us"] / 1000,
            p99_ms=report["p99_us"] / 1000,
            statuses=report["statuses"],
            socket_errors=report["socket_errors"],
        )

    def _count_statements(self) -> dict[str, statements.Counts]:
        counts = {}
        for scenario in self._scenarios():
            if scenario.app == "hello":
                continue
            lines = self._lines(scenario, self._one_use_tokens(scenario, 5))[:5]
            counts[scenario.name] = statements.per_request(
                self.app, scenario.method, scenario.path, lines
            )
        return counts


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer") from None
            time.sleep(0.2)


def _set_ratios(results: list[Result]) -> None:
    ceilings = {r.concurrency: r.rps for r in results if r.scenario.app == "hello"}
    for result in results:
        result.ratio = result.rps / ceilings[result.concurrency]


def _line(result: Result) -> str:
    return (
        f"{result.scenario.name:45} c={result.concurrency:<3} {result.rps:8.0f} req/s "
        f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  statuses {result.statuses}"
    )


# ---- the report -------------------------------------------------------------------------


def write_results(
    args: argparse.Namespace, results: list[Result], counts: dict[str, statements.Counts]
) -> None:
    block = "\n".join(
        [
            START,
            f"_Written by `python -m benchmarks.run` on {_now()}._",
            "",
            "### Machine and versions",
            *[f"- {name}: {value}" for name, value in _machine().items()],
            "",
            "### Command",
            f"- `python -m benchmarks.run {' '.join(sys.argv[1:])}`".rstrip(),
            f"- gunicorn options: `{' '.join(_shown_gunicorn_options(args))}`",
            f"- wrk: `wrk --threads 1 --connections C --duration {args.duration}s "
            "--timeout 10s --script benchmarks/requests.lua`",
            "",
            "### Throughput and latency",
            *_results_table(results),
            "",
            "### SQL per request",
            *_statements_table(counts),
            "",
            "### Malformed and wrongly authenticated token requests",
            *_malformed_section(results),
            END,
        ]
    )
    text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    RESULTS.write_text(before + block + after)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _shown_gunicorn_options(args: argparse.Namespace) -> list[str]:
    options = ["--config", "gunicorn.conf.py"]
    for flag, value in (
        ("--workers", args.workers),
        ("--worker-class", args.worker_class),
        ("--threads", args.threads),
    ):
        if value:
            options += [flag, str(value)]
    return options


def _machine() -> dict[str, str]:
    import importlib.metadata as metadata

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    postgres = subprocess.run(
        ["psql", ADMIN_URL, "-Atc", "SHOW server_version"], capture_output=True, text=True
    ).stdout.strip()
    packages = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("flask", "authlib", "joserfc", "cryptography", "sqlalchemy", "gunicorn")
    )
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": postgres or "unknown",
        "load generator": re.sub(r"\s+Copyright.*", "", wrk.splitlines()[0]) if wrk else "wrk",
        "packages": packages,
        "authserver commit": commit or "unknown",
    }


def _results_table(results: list[Result]) -> list[str]:
    rows = [
        "| scenario | c | req/s | ratio | target | p50 ms | p99 ms | non-2xx | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        target = r.scenario.target if r.concurrency == 16 else None
        rows.append(
            f"| {r.scenario.name} | {r.concurrency} | {r.rps:.0f} | {r.ratio:.2f} | "
            f"{f'>= {target}' if target else ''} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{'' if r.scenario.expected_4xx else r.non_2xx} | {_verdict(r)} |"
        )
    return rows


def _verdict(r: Result) -> str:
    missed = []
    if r.concurrency == 16 and r.scenario.target and r.ratio < r.scenario.target:
        missed.append("ratio")
    if r.concurrency == 64 and r.scenario.app != "hello" and r.p99_ms >= P99_LIMIT_MS:
        missed.append("p99")
    if r.socket_errors:
        missed.append(f"{r.socket_errors} socket errors")
    if r.scenario.expected_4xx:
        if any(not s.startswith("4") for s in r.statuses):
            missed.append("a status outside 4xx")
    elif r.non_2xx:
        missed.append("non-2xx")
    return "missed: " + ", ".join(missed) if missed else "met"


def _statements_table(counts: dict[str, statements.Counts]) -> list[str]:
    rows = [
        "| scenario | statements | writes | transactions |",
        "| --- | --- | --- | --- |",
    ]
    for name, c in counts.items():
        rows.append(f"| {name} | {c.statements} | {c.writes} | {c.transactions} |")
    return rows


def _malformed_section(results: list[Result]) -> list[str]:
    lines = []
    valid = {
        r.concurrency: r.rps
        for r in results
        if r.scenario.name == "token: client_credentials (RS256)"
    }
    for r in results:
        if not r.scenario.expected_4xx:
            continue
        compared = (
            f", {r.rps / valid[r.concurrency]:.2f} of valid client_credentials"
            if r.concurrency in valid
            else ""
        )
        lines.append(f"- c={r.concurrency}: {r.rps:.0f} req/s{compared}; statuses {r.statuses}")
    return lines


if __name__ == "__main__":
    main()
