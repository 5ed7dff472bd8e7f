"""The benchmark's targets (benchmarks/targets.py): each verdict follows from the run's figures;
"twice today" is against today's code in the same run, else against the stored ratios to the
ceiling (the median of the baseline's runs)."""

from __future__ import annotations

import pytest

from benchmarks import report, targets
from benchmarks.scenarios import SCENARIOS
from benchmarks.targets import (
    CEILING,
    CLIENT_CREDENTIALS,
    CODE,
    MET,
    MISSED,
    PEER_CLIENT_CREDENTIALS,
    PEER_REFRESH,
    REFRESH,
    TODAY,
    Figure,
)


def fig(rps: float, p99_ms: float = 10.0, wrong: int = 0) -> Figure:
    return Figure(rps=rps, p99_ms=p99_ms, wrong=wrong)


def verdicts(found: list[targets.Check]) -> dict[tuple[str, int], str]:
    return {(check.target, check.concurrency): check.verdict for check in found}


@pytest.mark.parametrize(("ours", "peer", "verdict"), [(500, 500, MET), (499, 500, MISSED)])
def test_refresh_is_measured_against_the_peer_on_postgresql(
    ours: float, peer: float, verdict: str
) -> None:
    figures = {(REFRESH, 16): fig(ours), (PEER_REFRESH, 16): fig(peer)}
    check = targets.ratio_check(figures, 16, *targets.RATIOS[0])
    assert check.verdict == verdict
    assert check.measured.startswith(f"{ours / peer:.2f}×")


def test_code_exchange_needs_nine_tenths_of_our_refresh() -> None:
    code_target = next(r for r in targets.RATIOS if r[1] == CODE)
    assert code_target[2] == REFRESH
    met = targets.ratio_check({(CODE, 64): fig(90), (REFRESH, 64): fig(100)}, 64, *code_target)
    missed = targets.ratio_check({(CODE, 64): fig(89), (REFRESH, 64): fig(100)}, 64, *code_target)
    assert (met.verdict, missed.verdict) == (MET, MISSED)


def test_a_ratio_without_its_peer_is_not_measured_rather_than_missed() -> None:
    check = targets.ratio_check({(CLIENT_CREDENTIALS, 16): fig(900)}, 16, *targets.RATIOS[1])
    assert check.verdict == f"not measured: no {PEER_CLIENT_CREDENTIALS}"
    assert check.measured == ""


@pytest.mark.parametrize(("now", "verdict"), [(1000, MET), (999, MISSED)])
def test_twice_today_is_against_todays_code_in_the_same_run(now: float, verdict: str) -> None:
    figures = {
        (CEILING, 16): fig(3000),
        ("introspection", 16): fig(now),
        (TODAY + "introspection", 16): fig(500),
    }
    # The stored ratio to the ceiling would say otherwise: today's own figure wins.
    check = targets.baseline_check(figures, 16, "introspection", 0.5)
    assert check.verdict == verdict
    assert "same run" in check.measured


def test_without_todays_code_twice_today_is_twice_the_stored_ratio_to_the_ceiling() -> None:
    # Today introspection did 0.15 of the ceiling: it needs 0.30 of this run's ceiling,
    # whatever that ceiling's req/s on this machine today.
    met = {(CEILING, 16): fig(2000), ("introspection", 16): fig(600)}
    missed = {(CEILING, 16): fig(2000), ("introspection", 16): fig(599)}
    assert targets.baseline_check(met, 16, "introspection", 0.15).verdict == MET
    assert targets.baseline_check(missed, 16, "introspection", 0.15).verdict == MISSED


def test_no_figure_of_today_at_a_concurrency_is_not_measured() -> None:
    figures = {(CEILING, 32): fig(3000), ("userinfo", 32): fig(900)}
    check = targets.checks(figures, [32], {16: {"userinfo": 0.1}})
    assert verdicts(check)[("userinfo ÷ today's code", 32)] == (
        "not measured: no today's figure at c=32"
    )


def test_any_wrong_answer_anywhere_misses_and_is_named() -> None:
    figures = {
        (CEILING, 16): fig(3000),
        (REFRESH, 16): fig(300, wrong=3),
        (PEER_REFRESH, 16): fig(300),
        (REFRESH, 64): fig(300),  # another concurrency's figures do not count at 16
    }
    check = targets.wrong_answers_check(figures, 16)
    assert check.verdict == MISSED
    assert check.measured == f"3 ({REFRESH}: 3)"
    assert targets.wrong_answers_check(figures, 64).verdict == MET


def test_p99_is_limited_at_64_only_and_strictly_below_the_limit() -> None:
    at_limit = {
        (REFRESH, 64): fig(300, p99_ms=targets.P99_LIMIT_MS),
        (CLIENT_CREDENTIALS, 64): fig(900, p99_ms=99.9),
        (REFRESH, 16): fig(300, p99_ms=500),
        (CLIENT_CREDENTIALS, 16): fig(900, p99_ms=500),
    }
    found = verdicts(targets.checks(at_limit, [16, 64], {}))
    assert found[(f"p99 of {REFRESH}", 64)] == MISSED
    assert found[(f"p99 of {CLIENT_CREDENTIALS}", 64)] == MET
    assert (f"p99 of {REFRESH}", 16) not in found


def test_the_baseline_is_the_median_of_its_runs_ratios() -> None:
    runs = [
        {CEILING: 1000, "introspection": 100, "userinfo": 50},
        {CEILING: 4000, "introspection": 600, "userinfo": 400},  # a quiet machine
        {CEILING: 2000, "introspection": 240, "userinfo": 200},
    ]
    data = {"runs": [{"req_per_s": {"16": rps}} for rps in runs]}
    assert targets.baseline_ratios(data) == {16: {"introspection": 0.12, "userinfo": 0.1}}


def test_a_run_adds_to_the_baseline_only_where_it_measured_all_three() -> None:
    figures = {
        (CEILING, 16): fig(3000.04),
        ("introspection", 16): fig(450),
        ("userinfo", 16): fig(300),
        (CEILING, 64): fig(3000),
        ("introspection", 64): fig(400),
    }
    assert targets.baseline_run(figures, [16, 64]) == {
        "16": {CEILING: 3000.0, "introspection": 450, "userinfo": 300}
    }


def bound_named(found: list[targets.Check], starts: str, c: int) -> targets.Check:
    (check,) = [b for b in found if b.target.startswith(starts) and b.concurrency == c]
    return check


@pytest.mark.parametrize(
    ("floor", "floor_figures", "peer"),
    [
        ("a Flask route that reads the form", targets.FLOOR, PEER_CLIENT_CREDENTIALS),
        ("Flask and Authlib's refresh grant", targets.REFRESH_FLOOR, PEER_REFRESH),
    ],
)
@pytest.mark.parametrize(
    ("floor_rps", "peer_rps", "reach"),
    [(1000, 1000, targets.WITHIN_REACH), (999, 1000, targets.OUT_OF_REACH)],
)
def test_a_floor_says_whether_its_target_can_be_met(
    floor: str, floor_figures: str, peer: str, floor_rps: float, peer_rps: float, reach: str
) -> None:
    figures = {(floor_figures, 16): fig(floor_rps), (peer, 16): fig(peer_rps)}
    bound = bound_named(targets.bounds(figures, [16]), floor, 16)
    assert bound.verdict == reach
    assert bound.measured.startswith(f"{floor_rps / peer_rps:.2f}×")


def test_a_bound_without_its_peer_is_not_measured() -> None:
    found = targets.bounds({(targets.FLOOR, 16): fig(1000)}, [16])
    bound = bound_named(found, "a Flask route that reads the form", 16)
    assert bound.measured == ""
    assert bound.verdict.startswith("not measured")


@pytest.mark.parametrize("floor", [targets.FLOOR, targets.REFRESH_FLOOR])
@pytest.mark.parametrize(
    ("p99_ms", "reach"), [(99.9, targets.WITHIN_REACH), (100.0, targets.OUT_OF_REACH)]
)
def test_a_floors_p99_at_64_says_whether_the_p99_targets_can_be_met(
    floor: str, p99_ms: float, reach: str
) -> None:
    figures = {(floor, 16): fig(1000, p99_ms=1.0), (floor, 64): fig(1000, p99_ms=p99_ms)}
    found = targets.bounds(figures, [16, 64])
    assert not [b for b in found if b.concurrency == 16 and b.target.startswith("p99")]
    bound = bound_named(found, f"p99 of {floor}", 64)
    assert (bound.verdict, bound.measured) == (reach, f"{p99_ms:.1f} ms")


def test_each_ratio_is_to_the_ceiling_not_to_a_floor_served_beside_it() -> None:
    by_name = {s.name: s for s in SCENARIOS}
    measured = [(CEILING, 4000.0), (targets.FLOOR, 1000.0), (CLIENT_CREDENTIALS, 500.0)]
    results = [
        report.Result(by_name[name], 16, rps, 1.0, 2.0, {"200": 1}, 0) for name, rps in measured
    ]
    report.set_ratios(results)
    assert [r.ratio for r in results] == [1.0, 0.25, 0.125]
