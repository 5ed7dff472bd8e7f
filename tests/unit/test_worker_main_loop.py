"""gunicorn_worker.BoundedThreadWorker's main loop, one rule at a time. Accepting: when a
worker holding more connections than another leaves a new one to the others, when it takes
it after all, that it neither spins nor goes past worker_connections, that a stopping worker
is no longer counted, and that running out of file descriptors pauses it. Reading: when a
request goes to a thread, and that a body sent a byte at a time costs the loop little. The
worker is driven turn by turn, as gunicorn's main loop does, on a real listening socket and
poller, with its clock in the test's hands. (tests/e2e/test_worker_balance.py shows the
spread across real workers, tests/e2e/test_slow_clients.py the slow clients end to end.)"""

from __future__ import annotations

import errno
import logging
import os
import resource
import selectors
import signal
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http.errors import LimitRequestHeaders
from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import ThreadWorker

import gunicorn_worker
from gunicorn_worker import (
    _ACCEPT_PAUSE,
    _ACCEPT_YIELD,
    _RECHECK_WHILE_WAITING,
    _UNACCEPTED_LOG_INTERVAL,
    BoundedThreadWorker,
    ConnectionCounts,
)

CAP = 6  # worker_connections
# gunicorn's main loop lets each wait take 1 s; shorter here, for a quick test, and still
# far from _RECHECK_WHILE_WAITING.
LOOP_TIMEOUT = 0.05


class RecordingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The worker's poller, noting how long each wait was allowed to take."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def select(self, timeout: float | None = None) -> list[Any]:
        self.timeouts.append(timeout)
        return super().select(timeout)


class Rig:
    """One worker, one other worker's count beside it, and clients to connect."""

    def __init__(self, worker: BoundedThreadWorker, other: int, listener: socket.socket):
        self.worker, self.other_slot, self.listener = worker, other, listener
        self.clients: list[socket.socket] = []
        self.now = 1000.0

    def holding(self, mine: int, others: int) -> None:
        """This worker holds `mine` connections, the other worker `others`."""
        self.worker.nr_conns = mine
        self.worker.counts.record(self.other_slot, others)

    def connect(self) -> None:
        """A new connection, queued on the listener until a worker accepts it."""
        self.clients.append(socket.create_connection(self.listener.getsockname()))

    def turn(self) -> None:
        """One turn of gunicorn 27's ThreadWorker.run() loop, as it is there."""
        worker = self.worker
        can_accept = worker.nr_conns < worker.worker_connections
        if can_accept != worker._accepting:
            worker.set_accept_enabled(can_accept)
        worker.wait_for_and_dispatch_events(timeout=LOOP_TIMEOUT)

    def taken(self) -> int:
        """Connections this worker accepted (they wait on its poller for a header)."""
        return len(self.worker.pending_conns)

    def still_queued(self) -> bool:
        """Whether a connection is still waiting on the listener for a worker."""
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return False
        sock.close()
        return True

    def last_wait(self) -> float | None:
        return self.worker.poller.timeouts[-1]

    def counted(self) -> bool:
        """Whether the other worker sees this one in the counts."""
        return self.worker.counts.fewest_elsewhere(self.other_slot) is not None

    def send(self, data: bytes) -> None:
        """The newest client sends `data`; the worker's turn then reads it."""
        self.clients[-1].sendall(data)

    def to_threads(self) -> int:
        """Requests the main loop handed to a thread."""
        return len(self.worker.handed)

    def waiting_for_a_body(self) -> int:
        return len(self.worker.body_conns)


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    cfg = Config()
    cfg.set("worker_connections", CAP)
    cfg.set("threads", 1)
    worker = BoundedThreadWorker(1, os.getppid(), [listener], None, 30, cfg, None)
    worker.counts = ConnectionCounts()  # this test's own, not the class's
    worker.poller = RecordingSelector()
    worker.body_conns = gunicorn_worker.deque()
    worker.log = logging.getLogger("test.worker")
    worker.handed = []
    worker.enqueue_req = worker.handed.append  # no thread pool: what would go to a thread
    worker._slot = worker.counts.claim(os.getpid())
    other = worker.counts.claim(os.getppid())  # a live process: counted
    assert None not in (worker._slot, other)
    rig = Rig(worker, other, listener)
    monkeypatch.setattr(gunicorn_worker, "time", SimpleNamespace(monotonic=lambda: rig.now))
    yield rig
    for conn in [*worker.pending_conns, *worker.body_conns, *worker.handed]:
        conn.sock.close()
    for client in rig.clients:
        client.close()
    worker.poller.close()
    worker.tmp.close()
    listener.close()


def test_a_worker_one_above_another_takes_a_new_connection_at_once(rig: Rig) -> None:
    """Within one, workers taking turns to wait slowed a burst of connections thirtyfold."""
    rig.holding(mine=3, others=2)
    rig.connect()
    rig.turn()
    assert rig.taken() == 1
    assert rig.worker.nr_conns == 4


def test_a_worker_two_above_another_leaves_a_new_connection_to_it(rig: Rig) -> None:
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    rig.now += _ACCEPT_YIELD * 0.8
    rig.turn()
    assert rig.taken() == 0
    assert rig.worker.nr_conns == 2
    assert rig.still_queued()  # for the other worker


def test_it_takes_the_connection_itself_when_no_other_did_in_time(rig: Rig) -> None:
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    rig.now += _ACCEPT_YIELD
    rig.turn()
    assert rig.taken() == 1
    assert rig.worker.nr_conns == 3


def test_after_the_wait_it_accepts_as_before_when_another_worker_took_it(rig: Rig) -> None:
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    assert rig.still_queued()  # the other worker takes it
    rig.now += _ACCEPT_YIELD
    rig.turn()
    assert rig.taken() == 0
    assert rig.worker._accepting
    rig.holding(mine=2, others=2)
    rig.connect()
    rig.turn()
    assert rig.taken() == 1


def test_a_waiting_worker_whose_own_connections_closed_takes_it_at_once(rig: Rig) -> None:
    """Otherwise workers each holding one more than another would all wait at once."""
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    rig.holding(mine=1, others=0)  # one of its connections closed; no time has passed
    rig.turn()
    assert rig.taken() == 1


def test_a_waiting_worker_takes_it_at_once_when_the_others_filled_up(rig: Rig) -> None:
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    rig.holding(mine=2, others=2)
    rig.turn()
    assert rig.taken() == 1


def test_while_waiting_the_loop_looks_again_every_millisecond_and_when_the_wait_ends(
    rig: Rig,
) -> None:
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    assert rig.last_wait() == LOOP_TIMEOUT  # the wait began within this one
    rig.turn()
    assert rig.last_wait() == _RECHECK_WHILE_WAITING
    left = _RECHECK_WHILE_WAITING / 2
    rig.now += _ACCEPT_YIELD - left
    rig.turn()
    assert rig.last_wait() == pytest.approx(left)


def test_a_worker_alone_or_uncounted_takes_every_connection(rig: Rig) -> None:
    rig.holding(mine=4, others=0)
    rig.worker.counts.release(rig.other_slot)  # no other worker
    rig.connect()
    rig.turn()
    assert rig.taken() == 1

    rig.worker.counts.claim(os.getppid())
    rig.worker.counts.record(rig.other_slot, 0)
    rig.worker._leave_counts()  # past ConnectionCounts.SLOTS workers, or booting
    rig.connect()
    rig.turn()
    assert rig.taken() == 2


def test_a_full_worker_takes_nothing_and_its_loop_waits_without_spinning(rig: Rig) -> None:
    rig.holding(mine=CAP, others=CAP)
    rig.connect()
    for _ in range(3):
        rig.turn()
        assert rig.last_wait() == LOOP_TIMEOUT
    assert rig.taken() == 0
    assert rig.worker.nr_conns == CAP
    rig.holding(mine=CAP - 1, others=CAP)  # a connection closed
    rig.turn()
    assert rig.taken() == 1


def test_the_resume_that_fills_a_worker_takes_no_second_connection_that_turn(
    rig: Rig,
) -> None:
    """The resume accepts in set_accept_enabled(), and the same turn's wait may then find
    the listener readable again: that connection is left queued, and no wait begins that
    gunicorn's loop, no longer accepting, would never end."""
    rig.holding(mine=CAP - 1, others=CAP - 3)
    rig.connect()
    rig.turn()
    assert rig.taken() == 0
    rig.holding(mine=CAP - 1, others=CAP - 1)  # the others filled up: resume
    rig.connect()
    rig.turn()
    assert rig.taken() == 1
    assert rig.worker.nr_conns == CAP
    assert not rig.worker._accepting_resumes_at
    rig.turn()
    assert rig.last_wait() == LOOP_TIMEOUT
    assert rig.worker.nr_conns == CAP
    assert rig.still_queued()


def test_a_resume_on_several_listeners_takes_none_past_the_cap(rig: Rig) -> None:
    """gunicorn bound to two addresses: the resume looks at each listener in turn."""
    second = socket.create_server(("127.0.0.1", 0))
    second.setblocking(False)
    rig.worker.sockets.append(second)
    try:
        rig.holding(mine=CAP - 1, others=CAP - 3)
        rig.connect()
        rig.clients.append(socket.create_connection(second.getsockname()))
        rig.turn()
        rig.now += _ACCEPT_YIELD
        rig.turn()
        assert rig.worker.nr_conns == CAP
        assert rig.taken() == 1
    finally:
        second.close()


def test_a_worker_stopping_while_it_waits_does_not_spin_through_its_graceful_shutdown(
    rig: Rig,
) -> None:
    """gunicorn's shutdown stops accepting, then waits on the poller until the open
    connections finish: the wait for accepting ends with accepting itself."""
    rig.holding(mine=2, others=0)
    rig.connect()
    rig.turn()
    rig.worker.set_accept_enabled(False)  # gunicorn's run(), once no longer alive
    rig.now += 2 * _ACCEPT_YIELD
    rig.worker.wait_for_and_dispatch_events(timeout=LOOP_TIMEOUT)
    assert rig.last_wait() == LOOP_TIMEOUT


def test_a_worker_stopping_on_its_own_is_no_longer_counted(rig: Rig) -> None:
    """max_requests or --reload end gunicorn's loop without a signal: the others must not
    leave new connections to a worker that accepts nothing more (each would wait
    _ACCEPT_YIELD for it)."""
    rig.holding(mine=0, others=3)
    rig.worker.alive = False  # gunicorn's handle_request, at max_requests
    rig.worker.set_accept_enabled(False)  # gunicorn's run(), once no longer alive
    assert not rig.counted()


def test_a_worker_told_to_stop_is_no_longer_counted(rig: Rig) -> None:
    rig.worker.method_queue.init()  # as init_process() does: handle_exit wakes the loop
    try:
        rig.worker.handle_exit(signal.SIGTERM, None)
        assert not rig.counted()
    finally:
        rig.worker.method_queue.close()


def test_a_worker_whose_loop_ends_is_no_longer_counted(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(worker: ThreadWorker) -> None:
        raise RuntimeError("the loop failed")

    rig.worker._leave_counts()
    monkeypatch.setattr(ThreadWorker, "run", fails)
    with pytest.raises(RuntimeError):
        rig.worker.run()  # claims a slot, then leaves it
    assert not rig.counted()


def test_a_worker_of_another_user_counts_as_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuses(pid: int, sig: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(gunicorn_worker.os, "kill", refuses)
    assert gunicorn_worker._is_alive(12345)


def test_a_full_worker_stays_counted(rig: Rig) -> None:
    rig.holding(mine=CAP, others=0)
    rig.turn()
    assert not rig.worker._accepting
    assert rig.counted()


def test_a_worker_whose_master_is_gone_is_no_longer_counted(rig: Rig) -> None:
    assert rig.worker.is_parent_alive()
    assert rig.counted()
    rig.worker.ppid = os.getpid()  # not this process's parent: the master was replaced
    assert not rig.worker.is_parent_alive()
    assert not rig.counted()


def _lowest_free_descriptor() -> int:
    fd = os.dup(0)
    os.close(fd)
    return fd


def test_out_of_file_descriptors_a_worker_pauses_accepting_and_keeps_serving(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """gunicorn's worker raises EMFILE out of its loop and exits, dropping every connection
    it holds; here the worker pauses for _ACCEPT_PAUSE, then takes the connection."""
    rig.holding(mine=0, others=0)
    rig.connect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_lowest_free_descriptor(), hard))
    try:
        rig.turn()  # accept() fails: EMFILE
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert rig.taken() == 0
    assert "cannot accept" in caplog.text
    rig.turn()
    assert rig.last_wait() == LOOP_TIMEOUT  # not looking again every millisecond
    rig.now += _ACCEPT_PAUSE * 0.9
    rig.turn()
    assert rig.last_wait() == pytest.approx(_ACCEPT_PAUSE * 0.1)  # and when the pause ends
    assert rig.taken() == 0  # no resuming early, though it holds no more than the others
    rig.now += _ACCEPT_PAUSE * 0.1
    rig.turn()
    assert rig.taken() == 1


def test_while_accepting_keeps_failing_the_log_has_one_line_per_interval(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.worker")
    rig.holding(mine=0, others=0)
    rig.connect()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_lowest_free_descriptor(), hard))
    try:
        for _ in range(int(_UNACCEPTED_LOG_INTERVAL / _ACCEPT_PAUSE) + 5):  # over one interval
            rig.turn()  # accept() fails: EMFILE
            rig.now += _ACCEPT_PAUSE
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2, errors  # the first failure, and one an interval later
    assert "(1 failed accepts)" in errors[0] and "(100 failed accepts)" in errors[1]
    rig.turn()
    assert rig.taken() == 1
    assert "accepting again (4 failed accepts since the last line)" in caplog.text


def _request(fields: int, body: bytes = b"", length: int | None = None) -> bytes:
    lines = [b"POST /token HTTP/1.1", b"Host: a"]
    lines += [b"X-%d: v" % n for n in range(fields - 2)]
    lines.append(b"Content-Length: %d" % (len(body) if length is None else length))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _accepted(rig: Rig) -> None:
    rig.holding(mine=0, others=0)
    rig.connect()
    rig.turn()
    assert rig.taken() == 1


def test_a_small_body_is_waited_for_on_the_loop_then_goes_to_a_thread(rig: Rig) -> None:
    _accepted(rig)
    rig.send(_request(3, length=4))
    rig.turn()
    assert (rig.waiting_for_a_body(), rig.to_threads()) == (1, 0)
    rig.send(b"abcd")
    rig.turn()
    assert (rig.waiting_for_a_body(), rig.to_threads()) == (0, 1)


def test_a_body_sent_a_byte_at_a_time_is_not_read_with_its_header_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read of the header splits all its fields: at each byte of a trickled body that
    cost 5.9 ms of the main loop for a header of 12,000 fields, stalling every connection
    of the worker."""
    readings = []
    request_end = gunicorn_worker._request_end
    monkeypatch.setattr(
        gunicorn_worker, "_request_end", lambda *a: readings.append(a) or request_end(*a)
    )
    _accepted(rig)
    rig.send(_request(3, length=5))
    rig.turn()
    for byte in b"abcd":
        rig.send(bytes([byte]))
        rig.turn()
        assert rig.waiting_for_a_body() == 1
    rig.send(b"e")
    rig.turn()
    assert rig.to_threads() == 1
    assert len(readings) == 1


def test_a_header_of_more_fields_than_gunicorn_takes_goes_to_a_thread_at_once(
    rig: Rig,
) -> None:
    """The main loop does not split a header the thread's parser will refuse (431)."""
    limit = rig.worker.cfg.limit_request_fields
    _accepted(rig)
    rig.send(_request(limit + 1, length=4))
    rig.turn()
    assert (rig.waiting_for_a_body(), rig.to_threads()) == (0, 1)


def test_a_header_of_as_many_fields_as_gunicorn_takes_waits_for_its_body(rig: Rig) -> None:
    limit = rig.worker.cfg.limit_request_fields
    _accepted(rig)
    rig.send(_request(limit, length=4))
    rig.turn()
    assert (rig.waiting_for_a_body(), rig.to_threads()) == (1, 0)


@pytest.mark.parametrize(("fields", "refused"), [(100, False), (101, True)])
def test_the_field_limit_is_the_one_gunicorns_parser_applies(fields: int, refused: bool) -> None:
    cfg = Config()
    assert cfg.limit_request_fields == 100
    parser = RequestParser(cfg, iter([_request(fields, b"abcd")]), ("127.0.0.1", 1))
    if refused:
        with pytest.raises(LimitRequestHeaders):
            next(parser)
    else:
        assert len(next(parser).headers) == fields
