"""The benchmark's CPU per request (benchmarks/cpu.py): each process's time goes to the
server when this process started it, to PostgreSQL by name, else to the rest of the machine;
wrk's is what it spent by the time it ended."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks import cpu
from benchmarks.cpu import _Process


def test_each_process_counts_for_who_started_it() -> None:
    me = os.getpid()
    before = {
        me: _Process(1, "python", 10.0),
        100: _Process(me, "python", 1.0),  # a gunicorn master this run started
        101: _Process(100, "python", 2.0),  # its worker
        200: _Process(1, "postgres", 5.0),
        300: _Process(1, "neighbour", 7.0),
        400: _Process(1, "old", 50.0),  # gone, its PID since given to a new server
    }
    after = {
        me: _Process(1, "python", 10.5),
        100: _Process(me, "python", 1.1),
        101: _Process(100, "python", 4.0),
        102: _Process(100, "python", 0.4),  # a worker started meanwhile
        200: _Process(1, "postgres", 5.6),
        300: _Process(1, "neighbour", 7.2),
        400: _Process(me, "node", 0.5),
    }
    spent = cpu.per_request(before, after, wrk_seconds=0.1, requests=1000)
    assert spent == {
        cpu.SERVER: pytest.approx(3.0),  # 0.1 + 2.0 + 0.4 + 0.5 seconds over 1000 requests
        cpu.POSTGRES: pytest.approx(0.6),
        cpu.WRK: pytest.approx(0.1),
        cpu.OTHER: pytest.approx(0.7),  # the neighbour and this process
    }


def test_a_snapshot_reads_this_process_and_a_child_with_its_parent() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        found = cpu.snapshot()
        assert found[child.pid].parent == os.getpid()
        assert found[os.getpid()].seconds > 0
    finally:
        child.communicate(b"")
    assert cpu.children_seconds() > 0  # the child's time, once it has ended
