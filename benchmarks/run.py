"""Run the load benchmarks and write benchmarks/RESULTS.md.

gunicorn serves authserver on a fresh PostgreSQL database and, with the same settings, a bare
Flask route (the ceiling); wrk on loopback drives each scenario for a fixed time at each
concurrency. Then, with the same wrk settings, the peers (benchmarks/peers/: node-oidc-provider
in memory and on its own fresh PostgreSQL database), if node and npm are here. SQL statements
per request are counted in-process for every scenario. The targets (benchmarks/targets.py) are
checked on the figures of this one run.

    python -m benchmarks.run [--duration 15] [--concurrency 16 64] [--only PREFIX ...]
                             [--no-peers] [--workers 4] [--write-baseline]

This is a measurement, not a test: it never fails on a missed target, it reports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from authserver import create_app
from authserver.config import Settings
from benchmarks import cpu, fixtures, peer_servers, report, statements, targets, today
from benchmarks.processes import stop, wait_until_answers
from benchmarks.report import Result
from benchmarks.scenarios import PEERS, SCENARIOS, Scenario, basic, malformed_requests

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
BASELINE = HERE / "baseline.json"
ADMIN_URL = os.environ.get(
    "AUTHSERVER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ONE_USE_STOCK = 60_000  # codes or refresh tokens per run: more than a run can spend


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: `make bench` installs Debian's wrk package")
    with scratch_database() as database_url, tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args, Path(tmp), database_url)
        results, counts = bench.run()
    report.set_ratios(results)
    figures = report.figures(results)
    if args.write_baseline:
        _add_baseline_run(figures, args.concurrency)
    baseline = targets.baseline_ratios(_baseline())
    checks = targets.checks(figures, args.concurrency, baseline)
    bounds = [b for b in targets.bounds(figures, args.concurrency) if b.measured]
    for note in bench.notes:
        print(note)
    for check in checks + bounds:
        print(targets.console(check))
    report.write_results(
        report.Run(
            args=args,
            gunicorn_options=_shown_gunicorn_options(args),
            results=results,
            counts=counts,
            checks=checks,
            bounds=bounds,
            notes=bench.notes,
            peer_versions=bench.peer_versions,
            today_commit=_baseline().get("commit"),
            admin_url=ADMIN_URL,
        )
    )
    print(f"wrote {report.RESULTS.relative_to(ROOT)}")


@contextmanager
def scratch_database(prefix: str = "authserver_bench") -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped after it."""
    database = f"{prefix}_{secrets.token_hex(4)}"
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
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="scenario name prefixes (the ceiling always runs; a peer runs with its counterpart)",
    )
    parser.add_argument(
        "--no-peers", action="store_true", help="do not run node-oidc-provider (benchmarks/peers)"
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help=f"add this run's ceiling, introspection and userinfo to {BASELINE.name} "
        "(measure it on the code the 2x targets start from)",
    )
    return parser.parse_args()


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(sql)


# The longest a measurement waits for PostgreSQL's autovacuum to finish before it starts.
SETTLE_SECONDS = 120


def settle_postgres() -> None:
    """Let the writes of what ran before (minting 60,000 codes or refresh tokens, the last
    scenario's own rows) finish in PostgreSQL before a measurement, so that their
    checkpoint and autovacuum do not take CPU from the next one (on two cores, an
    autovacuum worker is a third of the machine). Ours, today's code and the peers are
    measured after the same wait; a wait of over a second is printed."""
    started = time.monotonic()
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        while time.monotonic() < started + SETTLE_SECONDS:
            (vacuuming,) = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()
            if vacuuming == 0:
                break
            time.sleep(0.5)
    waited = time.monotonic() - started
    if waited > 1:
        print(f"waited {waited:.1f} s for PostgreSQL's checkpoint and autovacuum", flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, database_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.port = _free_port()
        self.env = bench_env(tmp, database_url, self.port)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.notes: list[str] = []
        self.peer_versions: str | None = None
        self.today: tuple[int, fixtures.Seed, str] | None = None  # port, seed, access token
        self.today_process: subprocess.Popen[bytes] | None = None

    def run(self) -> tuple[list[Result], dict[str, statements.Counts]]:
        self._cli("init")
        self.app = create_app(Settings.from_env(self.env))
        # The in-process app only mints fixtures and counts statements: no request log.
        logging.getLogger("authserver").setLevel(logging.WARNING)
        self.seed = fixtures.seed(self.app)
        hello_port = _free_port()
        with ExitStack() as later:  # today's database, dropped once its server has stopped
            try:
                self._gunicorn("wsgi:app", self.port)
                self._gunicorn("benchmarks.hello:app", hello_port)
                self.extra = {"access_token": self._access_token(self.port, self.seed)}
                self._check_malformed()
                self._start_today(later)
                results = []
                for scenario in self._scenarios():
                    self._use_alg(scenario.alg)
                    port = hello_port if scenario.app == "hello" else self.port
                    for n, concurrency in enumerate(self.args.concurrency):
                        tokens = self._one_use_tokens(scenario, ONE_USE_STOCK)
                        lines = self._lines(scenario, tokens)
                        # today's code after ours, then before, so a drift in load favours
                        # neither side
                        if n % 2:
                            results += self._load_today(scenario, concurrency)
                        results.append(self._load(scenario, port, concurrency, lines))
                        if not n % 2:
                            results += self._load_today(scenario, concurrency)
                self._stop_today()
                results += self._run_peers()
                counts = self._count_statements()
            finally:
                for process in self.processes:
                    stop(process)
        return results, counts

    def _named(self, scenario: Scenario) -> bool:
        return not self.args.only or any(scenario.name.startswith(o) for o in self.args.only)

    def _scenarios(self) -> list[Scenario]:
        """The ceiling, what --only names, and the floor with its counterpart."""
        named = [s for s in SCENARIOS[1:] if self._named(s)]
        names = {s.name for s in named}
        return [SCENARIOS[0], *[s for s in SCENARIOS[1:] if s in named or s.counterpart in names]]

    def _peers(self) -> list[Scenario]:
        """The peers that --only names, or whose counterpart runs."""
        ours = {s.name for s in self._scenarios()}
        return [p for p in PEERS if p.counterpart in ours or self._named(p)]

    # ---- today's code, for introspection and userinfo ----------------------------------

    def _start_today(self, later: ExitStack) -> None:
        """Today's code (benchmarks/baseline.json's commit) on its own database and port, if
        a scenario measured against it runs; without it, the stored ratios are used."""
        commit = _baseline().get("commit")
        if not commit or not any(s.name in targets.BASELINED for s in self._scenarios()):
            return
        try:
            code = today.unpack(commit, self.tmp / "today-code")
            port = _free_port()
            url = later.enter_context(scratch_database("authserver_bench_today"))
            env = {**bench_env(self.tmp / "today", url, port), "PYTHONPATH": str(code)}
            seed, refresh_token = today.prepare(code, env)
            self.today_process = self._gunicorn("wsgi:app", port, code, env)
            token = self._access_token(port, seed, refresh_token)
        except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError,
                psycopg.Error) as error:  # fmt: skip
            self._note(f"today's code ({commit}) not served, stored ratios used: {error}")
            return
        self.today = (port, seed, token)
        print(f"today's code ({commit}) serves on port {port}", flush=True)

    def _load_today(self, scenario: Scenario, concurrency: int) -> list[Result]:
        """Right after ours, the same scenario against today's code."""
        if self.today is None or scenario.name not in targets.BASELINED:
            return []
        port, seed, token = self.today
        twin = dataclasses.replace(scenario, name=targets.TODAY + scenario.name, app="today")
        lines = twin.lines(seed, {"access_token": token}, [])
        return [self._load(twin, port, concurrency, lines)]

    def _stop_today(self) -> None:
        if self.today_process is not None:
            stop(self.today_process)
        self.today = None

    # ---- the peers ----------------------------------------------------------------------

    def _note(self, note: str) -> None:
        print(note, flush=True)
        self.notes.append(note)

    def _run_peers(self) -> list[Result]:
        """Each peer in turn, alone, with the same wrk settings; skipped with a note where
        node or npm is missing or npm ci fails, so that authserver's figures still count."""
        peers = self._peers()
        if not peers:
            return []
        if self.args.no_peers:
            self._note("peers not run (--no-peers): the targets against them are not measured")
            return []
        try:
            work = peer_servers.install(self.tmp / "peers")
        except peer_servers.Unavailable as why:
            self._note(f"peers skipped: {why}; the targets against them are not measured")
            return []
        self.peer_versions = peer_servers.node_versions(work)
        results: list[Result] = []
        for peer in peers:
            try:
                self._run_peer(peer, work, results)
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError,
                    psycopg.Error) as error:  # fmt: skip
                self._note(f"{peer.name} not measured: {error}")
        return results

    def _run_peer(self, peer: Scenario, work: Path, results: list[Result]) -> None:
        port = _free_port()
        if not peer.one_use:
            with peer_servers.serving(work, peer.app, port, ALG="RS256"):
                for concurrency in self.args.concurrency:
                    results.append(self._load(peer, port, concurrency, self._lines(peer, [])))
            return
        # A fresh database, and a fresh slice of the minted refresh tokens per concurrency.
        stock = peer_servers.REFRESH_STOCK_PER_SECOND * self.args.duration
        minted = work / f"refresh-tokens-{port}.txt"
        count = str(stock * len(self.args.concurrency))
        with (
            scratch_database("authserver_bench_peer") as url,
            peer_servers.serving(work, peer.app, port, PGURL=url, N=count, OUT=str(minted)),
        ):
            tokens = minted.read_text().split()
            for n, concurrency in enumerate(self.args.concurrency):
                mine = tokens[n * stock : (n + 1) * stock]
                results.append(self._load(peer, port, concurrency, self._lines(peer, mine)))

    def _cli(self, *args: str) -> str:
        return run_cli(self.env, *args)

    def gunicorn_options(self, root: Path = ROOT) -> list[str]:
        options = ["--config", str(root / "gunicorn.conf.py")]
        if self.args.workers:
            options += ["--workers", str(self.args.workers)]
        if self.args.worker_class:
            options += ["--worker-class", self.args.worker_class]
        if self.args.threads:
            options += ["--threads", str(self.args.threads)]
        return options

    def _gunicorn(
        self, app: str, port: int, root: Path = ROOT, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "gunicorn", *self.gunicorn_options(root),
            "--bind", f"127.0.0.1:{port}", app,
        ]  # fmt: skip
        log = self.tmp / f"gunicorn-{port}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, env=env or self.env, cwd=root, stdout=output, stderr=output
            )
        self.processes.append(process)
        path = "/hello" if app.startswith("benchmarks") else "/readyz"
        wait_until_answers(f"http://127.0.0.1:{port}{path}", process, log)
        return process

    def _post_token(
        self, auth: str, body: str, port: int | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port or self.port}/token",
            data=body.encode(),
            headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def _access_token(self, port: int, seed: fixtures.Seed, raw: str | None = None) -> str:
        """A real access token for userinfo and introspection, from one refresh."""
        raw = raw or fixtures.mint_refresh_tokens(self.app, seed, 1)[0]
        auth = basic(seed.web_client_id, seed.web_secret)
        body_sent = f"grant_type=refresh_token&refresh_token={raw}"
        status, body = self._post_token(auth, body_sent, port)
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

    def _load(
        self, scenario: Scenario, port: int, concurrency: int, lines: list[tuple[str, str]]
    ) -> Result:
        """wrk on one scenario's request lines at one concurrency, once PostgreSQL has
        settled; prints its line."""
        requests_file = self.tmp / "requests.txt"
        requests_file.write_text("".join(f"{auth}\t{body}\n" for auth, body in lines))
        settle_postgres()
        cpu_before, wrk_before = cpu.snapshot(), cpu.children_seconds()
        command = [
            "wrk", "--threads", "1", "--connections", str(concurrency),
            "--duration", f"{self.args.duration}s", "--timeout", "10s",
            "--script", str(HERE / "requests.lua"), f"http://127.0.0.1:{port}",
            "--", scenario.method, scenario.path, str(requests_file),
            "once" if scenario.one_use else "cycle",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        cpu_after, wrk_seconds = cpu.snapshot(), cpu.children_seconds() - wrk_before
        measured = json.loads(output.strip().splitlines()[-1])
        if scenario.one_use and measured["requests"] >= len(lines):
            raise RuntimeError(f"{scenario.name}: the run used all {len(lines)} one-use tokens")
        result = Result(
            scenario=scenario,
            concurrency=concurrency,
            rps=measured["requests"] / (measured["duration_us"] / 1e6),
            p50_ms=measured["p50_us"] / 1000,
            p99_ms=measured["p99_us"] / 1000,
            statuses=measured["statuses"],
            socket_errors=measured["socket_errors"],
            cpu_ms=cpu.per_request(cpu_before, cpu_after, wrk_seconds, measured["requests"]),
        )
        print(report.line(result), flush=True)
        print(report.cpu_line(result), flush=True)
        return result

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


def _baseline() -> dict[str, Any]:
    return json.loads(BASELINE.read_text()) if BASELINE.exists() else {}


def _add_baseline_run(figures: targets.Figures, concurrencies: list[int]) -> None:
    """This run's figures added to benchmarks/baseline.json; the baseline is their median."""
    measured = targets.baseline_run(figures, concurrencies)
    if not measured:
        sys.exit("--write-baseline needs the ceiling, introspection and userinfo in the run")
    data = json.loads(BASELINE.read_text()) if BASELINE.exists() else {"runs": []}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    data["runs"].append(
        {
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": commit,
            "command": "python -m benchmarks.run " + " ".join(sys.argv[1:]),
            "load_average": [round(n, 1) for n in os.getloadavg()],
            "req_per_s": measured,
        }
    )
    BASELINE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"added this run to {BASELINE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
