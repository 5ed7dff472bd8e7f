"""The gunicorn worker authserver runs: gunicorn's gthread worker with every wait that a
client alone decides bounded, so that idle, slow or half-sent requests cannot hold the
threads that answer everyone else.

gunicorn's gthread worker (27.x) hands a new connection to a thread at once, which waits
up to 5 s for its first bytes, and then parses the header and reads the body in that thread
on a blocking socket with no timeout: a header sent one byte at a time, or a body shorter
than its Content-Length, holds the thread for as long as the client likes. It also closes
a finished connection on the main loop with a linger of up to 2 s for the client's FIN
(gunicorn.util.close_graceful), during which that worker accepts nothing. Here instead:

- the main loop accepts and waits for a connection's whole request header, without a
  thread, for at most `keepalive` seconds after the connection opened or answered its last
  request (gunicorn's own closing of pending and kept-alive connections);
- then, for a body of up to 64 KiB with a Content-Length (every token, form and API
  request), the main loop also waits for the whole body, for `client_timeout` seconds at
  most; so a slow body holds no thread either, and a handful of threads per worker serve
  everyone. A body that has not arrived by then goes to a thread, which answers 400 at
  once; a larger or chunked body, or one the client sends only after `100 Continue`, goes
  to a thread as soon as the header is here, as in gunicorn, and so does a header of more
  fields than limit_request_fields (the thread refuses it). The main loop reads a header's
  fields once, when it is whole, never again as its body arrives;
- the thread has `client_timeout` seconds in all to read what is left of the request, and
  each write of the response is abandoned after as long;
- closing lingers for the client's FIN on the poller, not blocking the main loop; and
  read-ahead that holds only part of the next request's header goes back to the main loop;
- out of file descriptors or memory, accept() pauses for _ACCEPT_PAUSE while the worker
  serves what it holds, where gunicorn's worker exits and drops every connection it had;
- a new connection goes to the worker holding the fewest (ConnectionCounts). gunicorn's
  workers all wait on the master's one listening socket and the kernel wakes them alike, so
  the worker already running wins: measured with wrk's 16 kept-alive connections on three
  workers, one worker held all 16 in one run of six, and served them on one of two cores at
  a third of the throughput. A worker holding more than one connection above another now
  leaves a new one to the others for _ACCEPT_YIELD at most, and takes it only if none did.
  gunicorn's `reuse_port` (a listening socket per worker, spread by the kernel's hash) was
  not taken: a stopping worker's socket resets the connections queued on it, so every
  reload would lose requests unless the host sets net.ipv4.tcp_migrate_req.

This is a subclass rather than gunicorn's code copied: it overrides the worker's
accept, readable and finish callbacks, its count of connections, the connection's init and
the thread's handle.
It lives beside wsgi.py, not in the authserver package, because gunicorn's master imports
the worker class: importing the package there would keep the application's modules in the
master, and `kill -HUP` would then start workers on the old code.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import selectors
import socket
import tempfile
import time
from collections import deque
from concurrent.futures import Future
from functools import partial
from typing import Any, ClassVar

from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import MAX_HEADERS
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

# RFC 9112 §2.1: the header section ends with an empty line. gunicorn parses the header;
# this only tells when all of it has arrived (a bare LF too, so that gunicorn, not we,
# decides what to make of one).
_HEADER_ENDS = (b"\r\n\r\n", b"\n\n")
# Past this many bytes without the end of the header, the thread's parser takes over (it
# enforces limit_request_line and limit_request_fields, under the request deadline): the
# main loop buffers at most this much per connection.
_MAX_BUFFERED_HEADER = 64 * 1024
# The largest body the main loop waits for; larger ones are read by the thread. Bounds the
# memory a connection can make the main loop hold.
_MAX_BUFFERED_BODY = 64 * 1024
# How long a worker holding more connections than another leaves a new connection to the
# others before it takes the connection itself (the other may be busy or slow to wake).
# A new connection waits this long at most, and only when it reaches a worker that holds
# more than one connection above another; it is never refused.
_ACCEPT_YIELD = 0.005
_RECHECK_WHILE_WAITING = 0.001
# accept() failing for want of a file descriptor or memory: the worker stops accepting this
# long, and serves the connections it holds meanwhile (gunicorn's worker exits, dropping
# them all; nginx and Go's net/http pause likewise).
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ACCEPT_PAUSE = 0.1
# While accept() keeps failing, one error line per this many seconds (with how many failed
# since the last line), not one per pause: ten a second would bury every other line.
_UNACCEPTED_LOG_INTERVAL = 10.0
# How long gunicorn's master waits for ConnectionCounts' claim lock when a worker has exited,
# and a booting worker when it claims its slot.
_MASTER_LOCK_WAIT = 0.1
_CLAIM_LOCK_WAIT = 1.0


class ConnectionCounts:
    """Every worker's open connections, in memory mapped before gunicorn's master forks
    the workers (this module is imported by gunicorn.conf.py in the master), so that a
    worker can tell whether another holds fewer.

    A slot per worker, (pid, connections) as 32-bit integers; each worker writes only its
    own slot, and an aligned 32-bit store is whole, so reading needs no lock. Claiming a
    slot takes a lock on the file behind the memory, which the kernel releases if its
    holder dies. A worker killed without releasing its slot (SIGKILL, the OOM killer) is
    not counted: the master releases the slot when it reaps the worker (gunicorn.conf.py's
    child_exit), before the PID can go to another process, and reading also skips a slot
    whose process is gone (for a master without that hook). Cell 0 holds how many slots
    were ever claimed, so that reading looks at those only."""

    # Workers past this many run uncounted: they take every connection, as gunicorn does.
    SLOTS = 255

    def __init__(self) -> None:
        size = (1 + 2 * self.SLOTS) * 4
        # Unlinked, so gone with the last process; in memory where /dev/shm is.
        self._file = tempfile.TemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self._file.truncate(size)
        self._memory = mmap.mmap(self._file.fileno(), size)  # shared by forked processes
        self._cells = memoryview(self._memory).cast("i")
        # In the master: exited workers whose slots it could not yet free (release_pid).
        self._unreleased: set[int] = set()

    def claim(self, pid: int) -> int | None:
        """A slot for this worker, or None when every slot is held by a live process or the
        lock stays held (by a worker stopped while holding it: SIGSTOP): the worker then
        runs uncounted rather than hang in its boot until the master times it out."""
        # A POSIX record lock: held per process, so forked workers exclude each other.
        if not self._lock_within(_CLAIM_LOCK_WAIT):
            return None
        try:
            for slot in range(self.SLOTS):
                holder = self._cells[1 + 2 * slot]
                if holder == 0 or not _is_alive(holder):
                    self._cells[2 + 2 * slot] = 0
                    self._cells[1 + 2 * slot] = pid
                    self._cells[0] = max(self._cells[0], slot + 1)
                    return slot
        finally:
            fcntl.lockf(self._file, fcntl.LOCK_UN)
        return None

    def release(self, slot: int) -> None:
        self._cells[1 + 2 * slot] = 0

    def release_pid(self, pid: int) -> None:
        """Free the slot of a worker that has exited (in the master, which reaped it). The
        master waits for the claim lock for _MASTER_LOCK_WAIT at most, and leaves the slot
        to the liveness check otherwise: a worker holds the lock for microseconds, but the
        master must not wait on one stopped while holding it (SIGSTOP), since ending such a
        worker is the master's job."""
        self._unreleased.add(pid)
        if not self._lock_within(_MASTER_LOCK_WAIT):
            return  # retried at the next exit: the liveness check fails on a reused PID
        try:
            for slot in range(self._cells[0]):
                if self._cells[1 + 2 * slot] in self._unreleased:
                    self.release(slot)
            self._unreleased.clear()
        finally:
            fcntl.lockf(self._file, fcntl.LOCK_UN)

    def _lock_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:  # held by another process (EAGAIN or EACCES)
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.001)

    def record(self, slot: int, connections: int) -> None:
        self._cells[2 + 2 * slot] = connections

    def fewest_elsewhere(self, slot: int) -> int | None:
        """The fewest connections any other live worker holds; None when there is none.
        (A process check per slot, about a microsecond each, once per new connection.)"""
        counts = [
            self._cells[2 + 2 * other]
            for other in range(self._cells[0])
            if other != slot and (holder := self._cells[1 + 2 * other]) != 0 and _is_alive(holder)
        ]
        return min(counts, default=None)


class RequestTimeout(NoMoreData):
    """The client did not send its whole request in time. A NoMoreData (an OSError), so
    gunicorn closes the connection quietly, and Werkzeug reads a body that stops with it as
    a client that went away (400 Bad Request, never a 500)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def __str__(self) -> str:
        return f"the request did not arrive within {self.timeout:g} s"


class DeadlineUnreader(SocketUnreader):
    """gunicorn's socket reader with a deadline for the whole request: each recv() waits
    only for what is left of it. A timeout per recv() alone would let a client trickle one
    byte per timeout for ever."""

    def __init__(self, sock: Any, timeout: float) -> None:
        super().__init__(sock)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.timed_out = False

    def chunk(self, size_hint: int | None = None) -> bytes:
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            return super().chunk(size_hint)
        except TimeoutError:
            self.timed_out = True
            raise RequestTimeout(self.timeout) from None
        finally:
            # A response that the client does not take is abandoned after as long.
            self.sock.settimeout(self.timeout)


class BoundedConn(TConn):
    """A connection whose next request header the main loop collects in `head`."""

    def __init__(self, cfg: Any, sock: Any, client: Any, server: Any, timeout: float) -> None:
        super().__init__(cfg, sock, client, server)
        self.client_timeout = timeout
        self.head = bytearray()
        # When the main loop waits for the body: the request's deadline, and where in
        # `head` the request ends, both set once its header is whole.
        self.body_deadline: float | None = None
        self.request_end = 0

    @property
    def has_timed_out(self) -> bool:
        return self.parser is not None and getattr(self.parser.unreader, "timed_out", False)

    def init(self) -> None:
        """Runs in the thread before each request: the deadline starts now."""
        is_new = self.parser is None
        super().init()
        self.sock.settimeout(self.client_timeout)  # also bounds a write when nothing is read
        if is_new:  # before the parser has read anything
            self.parser.unreader = DeadlineUnreader(self.sock, self.client_timeout)
        unreader = self.parser.unreader
        unreader.deadline = self.body_deadline or time.monotonic() + self.client_timeout
        self.body_deadline = None
        if self.head:
            # The parser's buffer is empty here: read-ahead went with the connection straight
            # to a thread (ThreadWorker.finish_request), or into head (_hold_partial_header).
            unreader.unread(bytes(self.head))
            self.head.clear()


class BoundedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker; set `client_timeout` before gunicorn starts it."""

    client_timeout: float = 10.0
    counts: ClassVar[ConnectionCounts] = ConnectionCounts()
    _slot: int | None = None  # this worker's in `counts`, once it runs
    _nr_conns = 0
    # Until when accepting is left to the other workers (_ACCEPT_YIELD), or paused for want
    # of resources (_ACCEPT_PAUSE: then it does not resume early).
    _accepting_resumes_at = 0.0
    _paused = False
    _unaccepted = 0  # accept() failures for want of resources, since the last line logged
    _unaccepted_logged_at: float | None = None  # when that line was; None: accepting works

    def init_process(self) -> None:
        # Connections whose body the main loop waits for, oldest deadline first (each gets
        # now + client_timeout when it joins), as gunicorn keeps its pending connections.
        self.body_conns: deque[BoundedConn] = deque()
        super().init_process()

    def run(self) -> None:
        # Counted once the application is loaded: the others leave no connection to a
        # worker that is still booting.
        self._slot = self.counts.claim(os.getpid())
        try:
            super().run()
        finally:
            self._leave_counts()

    @property
    def nr_conns(self) -> int:
        """gunicorn's count of this worker's open connections, published in `counts` at
        each change."""
        return self._nr_conns

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._nr_conns = value
        slot = self._slot  # read once: a signal handler may release it meanwhile
        if slot is not None:
            self.counts.record(slot, value)

    def handle_exit(self, sig: Any, frame: Any) -> None:
        # A stopping worker accepts nothing more: the others must not leave it connections.
        super().handle_exit(sig, frame)
        self._leave_counts()

    def is_parent_alive(self) -> bool:
        alive = bool(super().is_parent_alive())
        if not alive:  # gunicorn's loop stops accepting, and this worker stays alive
            self._leave_counts()
        return alive

    def _leave_counts(self) -> None:
        if self._slot is not None:
            self.counts.release(self._slot)
            self._slot = None

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        # The main loop reads the raw bytes of a header: TLS and HTTP/2 are the proxy's job.
        if cfg.is_ssl or list(cfg.http_protocols) != ["h1"]:
            raise RuntimeError(
                "gunicorn_worker.BoundedThreadWorker serves plain HTTP/1.1: terminate TLS "
                "and HTTP/2 at the proxy (no certfile, http_protocols = ['h1'])"
            )
        if cfg.keepalive < 1:
            raise RuntimeError(
                "gunicorn_worker.BoundedThreadWorker: keepalive must be at least 1 s, it is "
                "also how long a connection may take to send a whole header"
            )

    @property
    def _field_limit(self) -> int:
        """gunicorn's limit_request_fields, read as its parser reads it (0: the most)."""
        limit = self.cfg.limit_request_fields
        return limit if 0 < limit <= MAX_HEADERS else MAX_HEADERS

    @property
    def _is_full(self) -> bool:
        return self.nr_conns >= self.worker_connections

    def accept(self, listener: Any) -> None:
        if self._is_full:
            # Nothing taken (the resume in set_accept_enabled may have filled this worker
            # in the same turn), and no wait begun: gunicorn's loop stops accepting at its
            # next turn, so such a wait would end only when a connection closed, the loop
            # polling with no timeout meanwhile.
            return
        if self._holds_more_than_another():
            self._leave_accepting_to_the_others()
        else:
            self._take_connection(listener)

    def _holds_more_than_another(self) -> bool:
        """More than one connection above another worker's count: within one, workers
        taking turns to wait slowed a burst of new connections thirtyfold."""
        if self._slot is None:
            return False
        fewest = self.counts.fewest_elsewhere(self._slot)
        return fewest is not None and self.nr_conns > fewest + 1

    def _leave_accepting_to_the_others(self) -> None:
        self._accepting_resumes_at = time.monotonic() + _ACCEPT_YIELD
        super().set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's main loop asks for accepting at every turn. While this worker leaves
        new connections to the others it waits, until its time is up or it holds no more
        than any other (its own connections closed meanwhile: without this, workers that
        each hold one more than another would all wait at once); then it takes one still
        waiting."""
        if not enabled:
            self._accepting_resumes_at, self._paused = 0.0, False  # stopping, or full
            super().set_accept_enabled(False)
            if not self.alive:  # stopping on its own: max_requests, --reload
                self._leave_counts()
        elif not self._accepting_resumes_at:
            super().set_accept_enabled(True)
        elif time.monotonic() >= self._accepting_resumes_at or not (
            self._paused or self._holds_more_than_another()
        ):
            self._accepting_resumes_at, self._paused = 0.0, False
            super().set_accept_enabled(True)
            for listener in self.sockets:  # no other worker took it: this one does
                if not (self._is_full or self._paused):
                    self._take_connection(listener)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # While waiting, the main loop looks again every millisecond (the others may have
        # taken the connection, or this worker's own connections closed) and when the wait
        # ends, not a second later. (A full worker never waits: accept() takes nothing then,
        # so gunicorn's loop, which stops accepting when full, cannot spin on a wait that
        # would never end.)
        if self._accepting_resumes_at:
            remaining = self._accepting_resumes_at - time.monotonic()
            recheck = remaining if self._paused else _RECHECK_WHILE_WAITING
            timeout = max(0.0, min(timeout, recheck, remaining))
        super().wait_for_and_dispatch_events(timeout)

    def _log_unaccepted(self, error: OSError) -> None:
        self._unaccepted += 1
        now = time.monotonic()
        last = self._unaccepted_logged_at
        if last is None or now - last >= _UNACCEPTED_LOG_INTERVAL:
            self.log.error(
                "cannot accept (%s): pausing for %g s at a time (%d failed accepts)",
                error.strerror,
                _ACCEPT_PAUSE,
                self._unaccepted,
            )
            self._unaccepted, self._unaccepted_logged_at = 0, now

    def _take_connection(self, listener: Any) -> None:
        try:
            sock, addr = listener.accept()
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            if error.errno not in _OUT_OF_RESOURCES:
                raise
            self._log_unaccepted(error)
            self._accepting_resumes_at, self._paused = time.monotonic() + _ACCEPT_PAUSE, True
            super().set_accept_enabled(False)
            return
        if self._unaccepted_logged_at is not None:
            self.log.info(
                "accepting again (%d failed accepts since the last line)", self._unaccepted
            )
            self._unaccepted, self._unaccepted_logged_at = 0, None
        self.nr_conns += 1
        conn = BoundedConn(self.cfg, sock, addr, listener.getsockname(), self.client_timeout)
        # Not to a thread: it waits on the poller, and murder_pending() closes it when its
        # header is not complete within keepalive seconds.
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def on_pending_socket_readable(self, conn: BoundedConn, _client: Any) -> None:
        self._collect_header(conn, self.pending_conns)

    def on_client_socket_readable(self, conn: BoundedConn, _client: Any) -> None:
        self._collect_header(conn, self.keepalived_conns)

    def _collect_header(self, conn: BoundedConn, waiting: deque[BoundedConn]) -> None:
        """On the main loop: take what arrived; only a whole header goes on, to wait for a
        small body (on_body_readable) or to a thread. The connection stays in `waiting`
        meanwhile, with the deadline it came with."""
        seen = len(conn.head)
        data = _receive(conn.sock, _MAX_BUFFERED_HEADER)
        if data is None:
            return
        conn.head += data
        if data and not _has_whole_header(conn.head, seen):
            return
        waiting.remove(conn)
        if not data:  # the client closed or reset the connection
            self.poller.unregister(conn.sock)
            self._close(conn)
            return
        end = _request_end(conn.head, self._field_limit)
        if end > len(conn.head):
            conn.request_end = end
            conn.body_deadline = conn.timeout = time.monotonic() + self.client_timeout
            self.body_conns.append(conn)
            self.poller.modify(
                conn.sock, selectors.EVENT_READ, partial(self.on_body_readable, conn)
            )
            return
        self.poller.unregister(conn.sock)
        self._to_thread(conn)

    def on_body_readable(self, conn: BoundedConn, _client: Any) -> None:
        """On the main loop: the rest of a body; the whole request then goes to a thread."""
        data = _receive(conn.sock, _MAX_BUFFERED_BODY)
        if data is None:
            return
        conn.head += data
        # The header is not read again: a body trickled a byte at a time would otherwise
        # make the main loop re-parse a 64 KiB header at each byte.
        if data and len(conn.head) < conn.request_end:
            return
        self.poller.unregister(conn.sock)
        self.body_conns.remove(conn)
        if not data:
            self._close(conn)
        else:
            self._to_thread(conn)

    def murder_pending(self) -> None:
        """gunicorn's, and: a body past its deadline goes to a thread with what arrived of
        it; the thread's reader finds the deadline passed and the app answers 400."""
        super().murder_pending()
        now = time.monotonic()
        while self.body_conns and self.body_conns[0].timeout <= now:
            conn = self.body_conns.popleft()
            self.poller.unregister(conn.sock)
            self._to_thread(conn)

    def _to_thread(self, conn: BoundedConn) -> None:
        conn.data_ready = True  # ThreadWorker.handle() must not wait for data again
        self.enqueue_req(conn)

    def handle(self, conn: BoundedConn) -> Any:
        keepalive = super().handle(conn)
        if keepalive is True:
            _hold_partial_header(conn)
        return keepalive

    def finish_request(self, conn: BoundedConn, fs: Future[Any]) -> None:
        if fs.cancelled() or fs.exception() is not None or fs.result() is not False:
            super().finish_request(conn, fs)
        elif conn.has_timed_out:
            self._close(conn)  # the client stalled: nothing of ours left to deliver
        else:
            self._linger(conn)

    def _linger(self, conn: BoundedConn) -> None:
        """RFC 9112 §9.6: half-close, then read and discard what the client still sends
        until it closes too, so that closing cannot reset the response it has not yet read.
        gunicorn's util.close_graceful() does this blocking, for up to 2 s, on the main
        loop; here the connection waits on the poller (for keepalive seconds at most)."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive  # murder_pending() closes it then
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._discard, conn))

    def _discard(self, conn: BoundedConn, _client: Any) -> None:
        if _receive(conn.sock, _MAX_BUFFERED_HEADER) != b"":
            return  # something to discard, or nothing yet: the client has not closed
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        self._close(conn)

    def _close(self, conn: BoundedConn) -> None:
        self.nr_conns -= 1
        conn.close()


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def _receive(sock: socket.socket, size: int) -> bytes | None:
    """What arrived on a non-blocking socket: b"" once the client closed or reset it, None
    when nothing has come yet."""
    try:
        return sock.recv(size)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _hold_partial_header(conn: BoundedConn) -> None:
    """Read ahead of the next request, when it is only part of its header, waits on the main
    loop like any other: finish_request() would hand it straight back to a thread."""
    unreader = conn.parser.unreader
    ahead = unreader.take_buffered()
    if ahead and not _has_whole_header(ahead, 0):
        conn.head += ahead
    else:  # nothing, or a whole header: a thread can parse it without waiting
        unreader.unread(ahead)


def _request_end(head: bytes | bytearray, max_fields: int) -> int:
    """Where the buffered request ends, its header and a body of Content-Length bytes; 0
    when the thread should read the body (or there is none). Judged only to know when to
    hand the request to a thread: gunicorn's parser still reads and checks it. Whatever this
    reading could take otherwise than gunicorn does (no single plain Content-Length,
    Transfer-Encoding, Expect, folded lines, a body over _MAX_BUFFERED_BODY, a header past
    _MAX_BUFFERED_HEADER, more fields than limit_request_fields) is 0: the thread reads it,
    as gunicorn's own worker does, and refuses what it must. Hand-written because gunicorn's
    parser reads from a blocking socket, not a buffer; run once per request, on the main
    loop, so a header of thousands of fields is not split at all."""
    ends = [(at, len(end)) for end in _HEADER_ENDS if (at := head.find(end)) != -1]
    if not ends:
        return 0
    at, separator = min(ends)
    if head.count(b"\n", 0, at) > max_fields:  # the request line's LF, and one per field
        return 0
    lengths = []
    for line in bytes(head[:at]).split(b"\n")[1:]:  # the fields, after the request line
        if line[:1] in (b" ", b"\t"):
            return 0
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return 0
        if name == b"content-length":
            lengths.append(value.strip())
    if len(lengths) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 6:
        return 0
    length = int(lengths[0])
    if length > _MAX_BUFFERED_BODY:
        return 0
    return at + separator + length


def _has_whole_header(head: bytes | bytearray, seen: int) -> bool:
    if len(head) >= _MAX_BUFFERED_HEADER:
        return True
    start = max(0, seen - 3)  # an end split across two reads
    return any(head.find(end, start) != -1 for end in _HEADER_ENDS)
