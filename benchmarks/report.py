"""What a benchmark run measured, and the part of benchmarks/RESULTS.md it writes (between the
markers; the rest of that file is written by hand)."""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import cpu, statements, targets
from benchmarks.scenarios import Scenario

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass
class Result:
    scenario: Scenario
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: int
    # milliseconds of CPU per request by who spent it (benchmarks/cpu.py)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    ratio: float | None = None  # to the ceiling at the same concurrency, for information

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def outside_4xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("4"))

    def figure(self) -> targets.Figure:
        wrong = self.outside_4xx if self.scenario.expected_4xx else self.non_2xx
        return targets.Figure(self.rps, self.p99_ms, wrong + self.socket_errors)


def figures(results: list[Result]) -> targets.Figures:
    return {(r.scenario.name, r.concurrency): r.figure() for r in results}


def set_ratios(results: list[Result]) -> None:
    ceilings = {r.concurrency: r.rps for r in results if r.scenario.name == targets.CEILING}
    for result in results:
        result.ratio = result.rps / ceilings[result.concurrency]


def line(result: Result) -> str:
    """One scenario's console line; ../shared/peers/side-by-side.sh parses this shape."""
    return (
        f"{result.scenario.name:54} c={result.concurrency:<3} {result.rps:8.0f} req/s "
        f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  statuses {result.statuses}"
    )


def cpu_line(result: Result) -> str:
    """Where the CPU went, under the scenario's line."""
    spent = ", ".join(f"{group} {result.cpu_ms.get(group, 0):.2f}" for group in cpu.GROUPS)
    return f"{'':54} c={result.concurrency:<3} CPU ms per request: {spent}"


def _cpu_cells(result: Result) -> str:
    return " | ".join(f"{result.cpu_ms[g]:.2f}" if g in result.cpu_ms else "" for g in cpu.GROUPS)


@dataclass
class Run:
    """Everything the written block needs."""

    args: argparse.Namespace
    gunicorn_options: list[str]
    results: list[Result]
    counts: dict[str, statements.Counts]
    checks: list[targets.Check]
    bounds: list[targets.Check]  # those measured in the run
    notes: list[str]
    peer_versions: str | None
    today_commit: str | None  # the code introspection and userinfo were measured against
    admin_url: str


def write_results(run: Run) -> None:
    block = "\n".join(
        [
            START,
            f"_Written by `python -m benchmarks.run` on {_now()}._",
            "",
            "### Machine and versions",
            *[f"- {name}: {value}" for name, value in _machine(run).items()],
            "",
            "### Command",
            f"- `python -m benchmarks.run {shlex.join(sys.argv[1:])}`".rstrip(),
            f"- gunicorn options: `{' '.join(run.gunicorn_options)}`",
            f"- wrk, for authserver and the peers alike: `wrk --threads 1 --connections C "
            f"--duration {run.args.duration}s --timeout 10s --script benchmarks/requests.lua`",
            "- before each measurement, ours and the peers' alike: a PostgreSQL CHECKPOINT, "
            "and a wait for any autovacuum worker to finish",
            *_peer_lines(run),
            *_today_lines(run),
            *[f"- {note}" for note in run.notes],
            "",
            "### Targets (issue 16)",
            "Each a ratio of figures from this run, or a limit on one. Introspection and "
            "userinfo are against today's code (the commit in `benchmarks/baseline.json`) "
            "measured in this run, or where it could not be served, against the ratios to the "
            "ceiling stored there.",
            "",
            *targets.markdown(run.checks),
            "",
            *_bounds_section(run.bounds),
            "### Throughput and latency",
            "CPU per request is read from /proc around each measurement (`benchmarks/cpu.py`): "
            "the server under load (the processes this benchmark started), every PostgreSQL "
            "process, wrk, and the rest of the machine.",
            "",
            *_results_table(run.results),
            "",
            "### SQL per request",
            *_statements_table(run.counts),
            "",
            "### Malformed and wrongly authenticated token requests",
            *_malformed_section(run.results),
            END,
        ]
    )
    text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    RESULTS.write_text(before + block + after)


def _bounds_section(bounds: list[targets.Check]) -> list[str]:
    if not bounds:
        return []
    return [
        "### What the stack allows",
        "Not targets: a route that does only a target's unavoidable work, served by Flask and "
        "gunicorn with the same settings (`benchmarks/hello.py`), beside the target's peer "
        "in this run. Where the bound misses the target, no endpoint served that way can "
        "meet it.",
        "",
        *targets.markdown(bounds),
        "",
    ]


def _peer_lines(run: Run) -> list[str]:
    if run.peer_versions is None:
        return []
    return [
        "- peers (benchmarks/peers/README.md): one node process each, alone, after ours: "
        "op.mjs in memory, op-pg.mjs on its own scratch PostgreSQL database on the same server"
    ]


def _today_lines(run: Run) -> list[str]:
    if not any(r.scenario.app == "today" for r in run.results):
        return []
    return [
        f"- today's code: `{run.today_commit}` (benchmarks/baseline.json), unpacked with git "
        "archive and served the same way on its own scratch database; each `today:` row ran "
        "right after ours"
    ]


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _machine(run: Run) -> dict[str, str]:
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
        ["psql", run.admin_url, "-Atc", "SHOW server_version"], capture_output=True, text=True
    ).stdout.strip()
    packages = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("flask", "authlib", "joserfc", "cryptography", "sqlalchemy", "gunicorn")
    )
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "load average at the end": " ".join(f"{n:.1f}" for n in os.getloadavg()),
        "Python": platform.python_version(),
        "PostgreSQL": postgres or "unknown",
        "load generator": re.sub(r"\s+Copyright.*", "", wrk.splitlines()[0]) if wrk else "wrk",
        "packages": packages,
        "peers": run.peer_versions or "not run",
        "authserver commit": commit or "unknown",
    }


def _results_table(results: list[Result]) -> list[str]:
    rows = [
        "| scenario | c | req/s | ratio to ceiling | p50 ms | p99 ms | non-2xx | socket errors "
        "| CPU ms per request: server | PostgreSQL | wrk | other |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        wrong = f"{r.outside_4xx} outside 4xx" if r.scenario.expected_4xx else str(r.non_2xx)
        rows.append(
            f"| {r.scenario.name} | {r.concurrency} | {r.rps:.0f} | {r.ratio:.2f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {wrong} | {r.socket_errors} | {_cpu_cells(r)} |"
        )
    return rows


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
    valid = {r.concurrency: r.rps for r in results if r.scenario.name == targets.CLIENT_CREDENTIALS}
    for r in results:
        if not r.scenario.expected_4xx:
            continue
        compared = (
            f", {r.rps / valid[r.concurrency]:.2f} of valid client_credentials"
            if r.concurrency in valid
            else ""
        )
        lines.append(f"- c={r.concurrency}: {r.rps:.0f} req/s{compared}; statuses {r.statuses}")
    return lines or ["- not run"]
