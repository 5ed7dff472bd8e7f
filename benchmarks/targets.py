"""The targets of issue 16, checked on one run's figures: authserver beside node-oidc-provider
(the peers in benchmarks/peers/), code exchange beside our own refresh, introspection and
userinfo beside today's code (the commit in benchmarks/baseline.json, served in the same run;
where it cannot be, beside the ratios to the ceiling stored there), zero non-2xx, and p99 at
c=64.

Every target is a ratio of figures from the same run, or a limit on one of them: req/s on a
shared VM moves by 15-25 % from run to run, while what ran side by side moved together.
Pure functions, figures in and checks out; run.py measures, writes and prints.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CEILING = "ceiling: Flask hello JSON"
CLIENT_CREDENTIALS = "token: client_credentials (RS256)"
REFRESH = "token: refresh_token"
CODE = "token: authorization_code"
PEER_CLIENT_CREDENTIALS = "peer: oidc-provider client_credentials (RS256, memory)"
PEER_REFRESH = "peer: oidc-provider refresh_token (RS256, PostgreSQL)"
FLOOR = "floor: Flask route signing one RS256 JWT"
REFRESH_FLOOR = "floor: refresh by Authlib's grant on our SQL, two RS256 JWTs"

# (what, numerator, denominator, the least ratio that meets it)
RATIOS = (
    ("refresh on PostgreSQL ÷ oidc-provider refresh on PostgreSQL", REFRESH, PEER_REFRESH, 1.0),
    ("client_credentials RS256 ÷ oidc-provider in memory", CLIENT_CREDENTIALS,
     PEER_CLIENT_CREDENTIALS, 1.0),
    ("authorization_code ÷ our refresh", CODE, REFRESH, 0.9),
)  # fmt: skip
# Scenarios that must reach this multiple of today's figures; today's code's own figures in
# the run are named with the prefix.
BASELINED = ("introspection", "userinfo")
TODAY = "today: "
BASELINE_FACTOR = 2.0
# p99 is limited at this concurrency only, for these scenarios.
P99_CONCURRENCY = 64
P99_LIMIT_MS = 100.0
P99_LIMITED = (REFRESH, CLIENT_CREDENTIALS)

MET, MISSED = "met", "missed"

# Not targets: what a route that does only a target's unavoidable work, on the same stack
# (Flask, gunicorn, the same settings), reaches beside the target's peer in the same run. A
# target this bound misses cannot be met by any endpoint served that way.
# (what, the bounding scenario, the peer, the target's least ratio)
BOUNDS = (
    ("a Flask route that reads the form and signs one RS256 JWT ÷ oidc-provider "
     "client_credentials in memory", FLOOR, PEER_CLIENT_CREDENTIALS, 1.0),
    ("Flask and Authlib's refresh grant running our refresh's SQL and signing two RS256 "
     "JWTs ÷ oidc-provider refresh on PostgreSQL", REFRESH_FLOOR, PEER_REFRESH, 1.0),
)  # fmt: skip
# The floors whose p99 at P99_CONCURRENCY bounds the p99 targets.
P99_BOUNDS = (FLOOR, REFRESH_FLOOR)
WITHIN_REACH, OUT_OF_REACH = "within reach on this stack", "out of reach on this stack"


@dataclass(frozen=True)
class Figure:
    """What one scenario measured at one concurrency."""

    rps: float
    p99_ms: float
    wrong: int  # answers outside 2xx (outside 4xx for the malformed mix), plus socket errors


# Keyed by (scenario name, concurrency).
Figures = Mapping[tuple[str, int], Figure]


@dataclass(frozen=True)
class Check:
    target: str
    concurrency: int
    needed: str
    measured: str  # empty when not measured
    verdict: str  # met, missed, or "not measured: <why>"


def checks(
    figures: Figures, concurrencies: Iterable[int], baseline: Mapping[int, Mapping[str, float]]
) -> list[Check]:
    """Every target at every concurrency of the run, in the issue's order."""
    out: list[Check] = []
    for c in concurrencies:
        out += [ratio_check(figures, c, *ratio) for ratio in RATIOS]
        out += [
            baseline_check(figures, c, name, baseline.get(c, {}).get(name)) for name in BASELINED
        ]
        out.append(wrong_answers_check(figures, c))
        if c == P99_CONCURRENCY:
            out += [p99_check(figures, c, name) for name in P99_LIMITED]
    return out


def bounds(figures: Figures, concurrencies: Iterable[int]) -> list[Check]:
    """Each bound at each concurrency: whether the target it bounds can be met at all."""
    out = []
    for c in concurrencies:
        out += [_reach(ratio_check(figures, c, *bound)) for bound in BOUNDS]
        if c == P99_CONCURRENCY:
            out += [_reach(p99_check(figures, c, floor)) for floor in P99_BOUNDS]
    return out


def _reach(check: Check) -> Check:
    """A target's check made on its floor: met means within reach, missed out of it."""
    reach = {MET: WITHIN_REACH, MISSED: OUT_OF_REACH}.get(check.verdict, check.verdict)
    return Check(check.target, check.concurrency, check.needed, check.measured, reach)


def ratio_check(
    figures: Figures, c: int, target: str, numerator: str, denominator: str, least: float
) -> Check:
    needed = f"≥ {least:.1f}×"
    top, bottom = figures.get((numerator, c)), figures.get((denominator, c))
    if top is None or bottom is None:
        missing = numerator if top is None else denominator
        return Check(target, c, needed, "", f"not measured: no {missing}")
    ratio = top.rps / bottom.rps
    measured = f"{ratio:.2f}× ({top.rps:.0f} ÷ {bottom.rps:.0f} req/s)"
    return Check(target, c, needed, measured, MET if ratio >= least else MISSED)


def baseline_check(figures: Figures, c: int, name: str, baseline_ratio: float | None) -> Check:
    """`name` against today's code measured in the same run; failing that, its ratio to the
    ceiling now against the stored one."""
    target = f"{name} ÷ today's code"
    needed = f"≥ {BASELINE_FACTOR:.1f}×"
    figure, today, ceiling = (figures.get((n, c)) for n in (name, TODAY + name, CEILING))
    if figure is None:
        return Check(target, c, needed, "", f"not measured: no {name}")
    if today is not None:
        factor = figure.rps / today.rps
        measured = f"{factor:.2f}× ({figure.rps:.0f} ÷ {today.rps:.0f} req/s, same run)"
    elif ceiling is not None and baseline_ratio:
        now = figure.rps / ceiling.rps
        factor = now / baseline_ratio
        measured = f"{factor:.2f}× ({now:.3f} of the ceiling ÷ stored {baseline_ratio:.3f})"
    else:
        return Check(target, c, needed, "", f"not measured: no today's figure at c={c}")
    return Check(target, c, needed, measured, MET if factor >= BASELINE_FACTOR else MISSED)


def wrong_answers_check(figures: Figures, c: int) -> Check:
    """No scenario, ours or a peer's, had a wrong answer or a socket error."""
    target = "zero non-2xx (the malformed mix: zero non-4xx) and no socket errors"
    measured_here = {name: f for (name, at), f in figures.items() if at == c}
    if not measured_here:
        return Check(target, c, "0", "", "not measured: no scenario")
    wrong = {name: f.wrong for name, f in measured_here.items() if f.wrong}
    if not wrong:
        return Check(target, c, "0", "0", MET)
    listed = ", ".join(f"{name}: {n}" for name, n in wrong.items())
    return Check(target, c, "0", f"{sum(wrong.values())} ({listed})", MISSED)


def p99_check(figures: Figures, c: int, name: str) -> Check:
    target = f"p99 of {name}"
    needed = f"< {P99_LIMIT_MS:.0f} ms"
    figure = figures.get((name, c))
    if figure is None:
        return Check(target, c, needed, "", f"not measured: no {name}")
    verdict = MET if figure.p99_ms < P99_LIMIT_MS else MISSED
    return Check(target, c, needed, f"{figure.p99_ms:.1f} ms", verdict)


# ---- the baseline: today's introspection and userinfo, as ratios to the ceiling ------------


def baseline_run(figures: Figures, concurrencies: Iterable[int]) -> dict[str, dict[str, float]]:
    """One run's req/s of the ceiling and the baselined scenarios, for benchmarks/baseline.json."""
    run: dict[str, dict[str, float]] = {}
    for c in concurrencies:
        names = (CEILING, *BASELINED)
        if all((name, c) in figures for name in names):
            run[str(c)] = {name: round(figures[(name, c)].rps, 1) for name in names}
    return run


def baseline_ratios(data: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """The baseline of each scenario at each concurrency: the median, over the file's runs,
    of its req/s over the ceiling's req/s in the same run."""
    ratios: dict[int, dict[str, list[float]]] = {}
    for run in data.get("runs", []):
        for c, rps in run["req_per_s"].items():
            for name in BASELINED:
                if name in rps and rps.get(CEILING):
                    ratios.setdefault(int(c), {}).setdefault(name, []).append(
                        rps[name] / rps[CEILING]
                    )
    return {
        c: {name: statistics.median(v) for name, v in by_name.items()}
        for c, by_name in ratios.items()
    }


# ---- how the checks read ----------------------------------------------------------------


def markdown(found: list[Check]) -> list[str]:
    rows = ["| target | c | needed | measured | verdict |", "| --- | --- | --- | --- | --- |"]
    for check in found:
        verdicts = (MET, MISSED, WITHIN_REACH, OUT_OF_REACH)
        verdict = f"**{check.verdict}**" if check.verdict in verdicts else check.verdict
        cells = (check.target, str(check.concurrency), check.needed, check.measured, verdict)
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def console(check: Check) -> str:
    measured = f"{check.measured}, " if check.measured else ""
    return (
        f"target c={check.concurrency:<3} {check.target}: {measured}"
        f"needs {check.needed}: {check.verdict}"
    )
