"""gunicorn_worker.ConnectionCounts: each worker's open connections, shared by the workers
of one gunicorn master."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import gunicorn_worker
from gunicorn_worker import ConnectionCounts


def _dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@contextmanager
def _child_until_done(act: Callable[[], object]) -> Iterator[None]:
    """A forked process (a worker) that does `act` and stays alive, holding whatever it
    took, until the block ends."""
    acted_r, acted_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            act()
            os.write(acted_w, b"x")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        os.read(acted_r, 1)
        yield
    finally:
        os.write(done_w, b"x")
        os.waitpid(pid, 0)
        for fd in (acted_r, acted_w, done_r, done_w):
            os.close(fd)


def test_each_worker_claims_its_own_slot() -> None:
    counts = ConnectionCounts()
    assert counts.claim(os.getppid()) != counts.claim(os.getpid())


def test_the_fewest_elsewhere_leaves_out_the_worker_itself_and_released_slots() -> None:
    counts = ConnectionCounts()
    me, busy, gone = counts.claim(os.getpid()), counts.claim(os.getppid()), counts.claim(1)
    assert None not in (me, busy, gone)
    counts.record(me, 0)
    counts.record(busy, 7)
    counts.record(gone, 2)
    assert counts.fewest_elsewhere(me) == 2
    assert counts.fewest_elsewhere(busy) == 0
    counts.release(gone)
    assert counts.fewest_elsewhere(me) == 7


def test_a_worker_alone_has_no_other_to_leave_connections_to() -> None:
    counts = ConnectionCounts()
    assert counts.fewest_elsewhere(counts.claim(os.getpid())) is None


def test_the_slot_of_a_worker_that_died_goes_to_the_next_with_its_count_reset() -> None:
    counts = ConnectionCounts()
    dead = counts.claim(_dead_pid())
    counts.record(dead, 9)
    me = counts.claim(os.getpid())
    assert me == dead
    other = counts.claim(os.getppid())
    assert counts.fewest_elsewhere(other) == 0


def test_the_counts_are_shared_with_processes_forked_after_they_were_made() -> None:
    """As gunicorn's master makes them (importing gunicorn_worker) and then forks."""
    counts = ConnectionCounts()
    me = counts.claim(os.getpid())
    with _child_until_done(lambda: counts.record(counts.claim(os.getpid()), 5)):
        assert counts.fewest_elsewhere(me) == 5


def test_a_worker_killed_without_releasing_its_slot_is_not_counted() -> None:
    """SIGKILL or the OOM killer: the others must not keep leaving it connections."""
    counts = ConnectionCounts()
    me = counts.claim(os.getpid())
    counts.record(counts.claim(_dead_pid()), 0)
    assert counts.fewest_elsewhere(me) is None


def test_every_slot_held_by_a_live_process_leaves_a_new_worker_uncounted() -> None:
    counts = ConnectionCounts()
    for _ in range(ConnectionCounts.SLOTS):
        assert counts.claim(os.getpid()) is not None
    assert counts.claim(os.getpid()) is None


def test_a_worker_that_dies_while_claiming_does_not_block_the_next() -> None:
    """The claim lock is a POSIX record lock: the kernel releases it with its holder."""
    counts = ConnectionCounts()
    pid = os.fork()
    if pid == 0:  # the child takes the lock and dies holding it
        fcntl.lockf(counts._file, fcntl.LOCK_EX)
        os._exit(0)
    os.waitpid(pid, 0)
    claiming = threading.Thread(target=counts.claim, args=(os.getpid(),), daemon=True)
    claiming.start()
    claiming.join(timeout=10)
    assert not claiming.is_alive(), "the claim waits for a lock whose holder is gone"


def test_the_master_frees_the_slot_of_a_worker_it_reaped() -> None:
    """gunicorn.conf.py's child_exit, before the PID can go to another process: a slot
    whose PID was reused would otherwise count for ever."""
    counts = ConnectionCounts()
    me, other = counts.claim(os.getpid()), counts.claim(os.getppid())
    with subprocess.Popen(["sleep", "30"]) as reused:  # alive: as a reused PID would be
        try:
            counts.record(counts.claim(reused.pid), 0)
            counts.record(other, 4)
            assert counts.fewest_elsewhere(me) == 0
            counts.release_pid(reused.pid)
            assert counts.fewest_elsewhere(me) == 4
        finally:
            reused.kill()


def test_the_master_does_not_wait_on_a_worker_stopped_while_it_claims() -> None:
    """Ending a stopped worker is the master's job: it must not wait on that worker's lock.
    It leaves the slot to the liveness check, and frees it once the lock is free."""
    counts = ConnectionCounts()
    me = counts.claim(os.getpid())
    counts.record(counts.claim(os.getppid()), 0)  # as the worker being reaped left it
    with _child_until_done(lambda: fcntl.lockf(counts._file, fcntl.LOCK_EX)):
        releasing = threading.Thread(target=counts.release_pid, args=(os.getppid(),))
        releasing.daemon = True
        releasing.start()
        releasing.join(timeout=5)
        assert not releasing.is_alive(), "the master waits on a stopped worker's lock"
        assert counts.fewest_elsewhere(me) == 0  # still there
    counts.release_pid(os.getppid())
    assert counts.fewest_elsewhere(me) is None


def test_a_booting_worker_does_not_wait_on_a_worker_stopped_while_it_claims(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It runs uncounted (it takes every connection, as gunicorn's own worker does) rather
    than hang in its boot until the master times it out, and the next, for as long as the
    stopped worker lives."""
    monkeypatch.setattr(gunicorn_worker, "_CLAIM_LOCK_WAIT", 0.05)
    counts = ConnectionCounts()
    with _child_until_done(lambda: fcntl.lockf(counts._file, fcntl.LOCK_EX)):
        claiming = threading.Thread(target=counts.claim, args=(os.getpid(),), daemon=True)
        claiming.start()
        claiming.join(timeout=5)
        assert not claiming.is_alive(), "the claim waits on a stopped worker's lock"
        assert counts.claim(os.getpid()) is None
    assert counts.claim(os.getpid()) is not None


def test_the_master_frees_at_the_next_exit_a_slot_it_could_not_free_at_the_first() -> None:
    """Otherwise a PID reused by another process would keep the slot counted for ever."""
    counts = ConnectionCounts()
    me = counts.claim(os.getpid())
    with subprocess.Popen(["sleep", "30"]) as reused, subprocess.Popen(["sleep", "30"]) as next_:
        try:
            counts.record(counts.claim(reused.pid), 0)
            counts.record(counts.claim(next_.pid), 1)
            with _child_until_done(lambda: fcntl.lockf(counts._file, fcntl.LOCK_EX)):
                counts.release_pid(reused.pid)  # the lock is held: not freed yet
            assert counts.fewest_elsewhere(me) == 0
            counts.release_pid(next_.pid)
            assert counts.fewest_elsewhere(me) is None
        finally:
            reused.kill()
            next_.kill()
