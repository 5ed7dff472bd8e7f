"""CPU time per request, by who spent it, read from /proc around each measurement: the
server under load (the processes this benchmark started, wrk aside), PostgreSQL (every
`postgres` process: backends, WAL writer, checkpointer), wrk, and everything else on the
machine. On two shared cores req/s says how much got done and this says what it cost, and
where: "other" shows a neighbour eating the CPU that a slow run lacked.

Only the servers under load spend more than a few ms a second: the idle ones started
beside them (today's code, the floor's app) wake for their heartbeats alone.
"""

from __future__ import annotations

import os
import resource
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SERVER, POSTGRES, WRK, OTHER = "server", "PostgreSQL", "wrk", "other"
GROUPS = (SERVER, POSTGRES, WRK, OTHER)
_TICKS = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


@dataclass(frozen=True)
class _Process:
    parent: int
    name: str
    seconds: float  # user and system time of every thread so far


Snapshot = dict[int, _Process]


def snapshot() -> Snapshot:
    found = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # exited meanwhile
                continue
            # "pid (name) state ppid ...": the name may hold spaces and parentheses
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / _TICKS
            found[int(entry.name)] = _Process(int(fields[1]), name, seconds)
    return found


def children_seconds() -> float:
    """The CPU time of this process's children that have ended: wrk's, once it has."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_request(
    before: Snapshot, after: Snapshot, wrk_seconds: float, requests: int
) -> dict[str, float]:
    """Milliseconds of CPU per request, by group, between two snapshots taken around wrk
    (which has ended by the second: its time is given). A process that started and ended
    between them is not counted."""
    spent: Counter[str] = Counter({WRK: wrk_seconds})
    for pid, process in after.items():
        earlier = before.get(pid)
        start = earlier.seconds if earlier is not None and earlier.name == process.name else 0
        spent[_group(pid, process, after)] += process.seconds - start
    return {group: spent[group] * 1000 / max(requests, 1) for group in GROUPS}


def _group(pid: int, process: _Process, processes: Snapshot) -> str:
    if process.name == "postgres":
        return POSTGRES
    me = os.getpid()
    return SERVER if pid != me and _descends_from(pid, me, processes) else OTHER


def _descends_from(pid: int, ancestor: int, processes: Snapshot) -> bool:
    seen = set()
    while pid not in seen and pid in processes:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = processes[pid].parent
    return False
