"""Clients that open connections and then send nothing, half a header, or a body slower
than its Content-Length cannot stall gunicorn (gunicorn.conf.py, gunicorn_worker.py): the
others are answered meanwhile, and the server closes the stalled connections itself."""

from __future__ import annotations

import base64
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import PostgresDatabases
from tests.e2e.conftest import Deployment
from tests.e2e.processes import Server, free_port, server_env

WORKERS = 2  # Server.gunicorn
THREADS = 4  # AUTHSERVER_THREADS
CLIENT_TIMEOUT = 4.0  # AUTHSERVER_CLIENT_TIMEOUT: the rest of a request, once a thread has it
KEEPALIVE = 5.0  # gunicorn.conf.py: a whole header, from when the connection opened
MARGIN = 5.0  # the main loop looks at its deadlines once a second; a busy machine
ANSWERED_WITHIN = 3.0  # a normal request takes milliseconds; a stalled worker took 30 s

TOKEN_HEAD = (
    b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
)


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
OK, BAD_REQUEST, NOTHING = b"HTTP/1.1 200 OK", b"HTTP/1.1 400 BAD REQUEST", b""


@dataclass(frozen=True)
class Stall:
    """How a stalling client opens its connection (`opening`, then `after_response` once
    it has read the answer to a request in the opening, if any), how many of them, how
    long the server may keep such a connection open, and the first line it sends after
    the opening was read."""

    opening: bytes
    count: int
    closed_within: float
    answer: bytes = NOTHING
    after_response: bytes | None = None
    trickles: bool = False


MANY = 3 * WORKERS * THREADS  # three times as many as there are threads: none may take one
STALLS = {
    "sending nothing": Stall(b"", MANY, KEEPALIVE),
    "half a header": Stall(TOKEN_HEAD + b"Content-Le", MANY, KEEPALIVE),
    "half a header after a kept-alive request": Stall(
        HEALTHZ, MANY, KEEPALIVE, after_response=b"GET /healthz HTTP/1.1\r\nHo"
    ),
    "half a header pipelined behind a request": Stall(
        HEALTHZ + b"GET /healthz HTTP/1.1\r\nHo", MANY, KEEPALIVE, answer=OK
    ),
    # Answered and closed at once; the server's wait for the client's own close must not
    # hold the worker (gunicorn lingers up to 2 s per connection on its main loop).
    "never closing after Connection: close": Stall(
        HEALTHZ.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), MANY, 0.0, answer=OK
    ),
    # A small body is awaited on the main loop, for CLIENT_TIMEOUT; then a thread answers
    # 400 at once.
    "a body slower than its Content-Length": Stall(
        TOKEN_HEAD + b"Content-Length: 100\r\n\r\ngrant_type=",
        MANY,
        CLIENT_TIMEOUT,
        answer=BAD_REQUEST,
        trickles=True,
    ),
    # A body larger than the main loop buffers holds a thread until CLIENT_TIMEOUT: fewer
    # than one worker's threads, so that whichever worker accepts them keeps one for the
    # others.
    "a large body slower than its Content-Length": Stall(
        TOKEN_HEAD + b"Content-Length: 100000\r\n\r\ngrant_type=",
        THREADS - 1,
        CLIENT_TIMEOUT,
        answer=BAD_REQUEST,
        trickles=True,
    ),
}


@dataclass
class Service:
    server: Server
    auth: tuple[str, str]

    def healthz(self) -> int:
        return requests.get(self.server.base + "/healthz", timeout=60).status_code

    def issue_token(self) -> int:
        return requests.post(
            self.server.base + "/token",
            data={"grant_type": "client_credentials"},
            auth=self.auth,
            timeout=60,
        ).status_code

    def answer_normal_requests(self) -> list[tuple[int, float]]:
        """Five rounds of /healthz and a token request: each one's status and seconds."""
        answers = []
        for _ in range(5):
            for request in (self.healthz, self.issue_token):
                started = time.monotonic()
                answers.append((request(), time.monotonic() - started))
        return answers


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases | None
) -> Iterator[Service]:
    """One gunicorn for the module (each test waits for its own stalls to end or closes
    them), on PostgreSQL as in production."""
    if postgres_databases is None:
        pytest.skip("no PostgreSQL server (set AUTHSERVER_TEST_POSTGRES_URL)")
    port, tmp = free_port(), tmp_path_factory.mktemp("slow-clients")
    env = server_env(
        tmp,
        postgres_databases.create(),
        f"http://127.0.0.1:{port}",
        threads=str(THREADS),
        client_timeout=f"{CLIENT_TIMEOUT:g}",
    )
    deployment = Deployment(env, tmp, port)
    deployment.cli("init")
    server = deployment.start()
    client = json.loads(
        deployment.cli("clients", "create", "--name", "Billing", "--service", "billing", "--json")
    )
    yield Service(server, (client["client_id"], client["client_secret"]))
    deployment.stop()


class StalledConnections:
    """The stalling clients' sockets, opened at once; a thread trickles one body byte to
    each every half second when the stall trickles."""

    def __init__(self, base: str, stall: Stall) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.stall = stall
        self.opened = time.monotonic()
        self.sockets = [socket.create_connection((host, int(port))) for _ in range(stall.count)]
        for sock in self.sockets:
            sock.sendall(stall.opening)
        if stall.after_response is not None:
            for sock in self.sockets:
                _read_response(sock)
                sock.sendall(stall.after_response)
        self._stop = threading.Event()
        self._trickler = threading.Thread(target=self._trickle, daemon=True)
        if stall.trickles:
            self._trickler.start()

    def _trickle(self) -> None:
        while not self._stop.wait(0.5):
            for sock in self.sockets:
                try:
                    sock.send(b"x")
                except OSError:  # closed by the server: what the test waits for
                    pass

    def still_open(self) -> int:
        return sum(_is_open(sock) for sock in self.sockets)

    def answers_when_closed(self) -> list[tuple[float, bytes]]:
        """Read each connection to its end: when the server closed it (seconds after it was
        opened) and what it sent first."""
        deadline = self.opened + self.stall.closed_within + MARGIN
        return [_read_to_end(sock, deadline, self.opened) for sock in self.sockets]

    def close(self) -> None:
        self._stop.set()
        if self._trickler.is_alive():
            self._trickler.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def open_stalled(service: Service) -> Iterator[Callable[[Stall], StalledConnections]]:
    opened: list[StalledConnections] = []

    def open_(stall: Stall) -> StalledConnections:
        opened.append(StalledConnections(service.server.base, stall))
        return opened[-1]

    yield open_
    for connections in opened:
        connections.close()


def _is_open(sock: socket.socket) -> bool:
    """Whether the server has not closed its end, even with unread data before its FIN."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP)
    return not poller.poll(0)


def _read_response(sock: socket.socket) -> None:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    assert response.status == 200


def _read_to_end(sock: socket.socket, deadline: float, opened: float) -> tuple[float, bytes]:
    received = b""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            data = b""
        if not data:
            return time.monotonic() - opened, received
        received += data
    return float("inf"), received  # still open at the deadline


def _server_log(server: Server, since: int = 0) -> list[str]:
    return server.log.read_bytes()[since:].decode(errors="replace").splitlines()


@pytest.mark.parametrize("stall", STALLS.values(), ids=STALLS.keys())
def test_normal_requests_are_answered_while_connections_stall(
    service: Service, open_stalled: Callable[[Stall], StalledConnections], stall: Stall
) -> None:
    stalled = open_stalled(stall)

    answers = service.answer_normal_requests()

    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < ANSWERED_WITHIN, answers
    # The requests above ran while the stall lasted; on a loaded machine they may take
    # until the server is due to close the stalled connections, and then it may.
    if time.monotonic() - stalled.opened < stall.closed_within:
        assert stalled.still_open() == stall.count


@pytest.mark.parametrize("stall", STALLS.values(), ids=STALLS.keys())
def test_the_server_closes_stalled_connections_within_their_timeout(
    service: Service, open_stalled: Callable[[Stall], StalledConnections], stall: Stall
) -> None:
    stalled = open_stalled(stall)

    answers = stalled.answers_when_closed()

    assert max(after for after, _ in answers) <= stall.closed_within + MARGIN, answers
    assert {answer.split(b"\r\n", 1)[0] for _, answer in answers} == {stall.answer}
    if stall.answer == BAD_REQUEST:  # the body stopped: an OAuth error for that client alone
        assert all(b'"error":"invalid_request"' in answer for _, answer in answers)


@pytest.mark.parametrize(
    "name", ["a body slower than its Content-Length", "a large body slower than its Content-Length"]
)
def test_a_stalled_body_costs_no_one_else_a_worker_timeout_or_a_500(
    service: Service, open_stalled: Callable[[Stall], StalledConnections], name: str
) -> None:
    stall = STALLS[name]
    log_start = service.server.log.stat().st_size
    stalled = open_stalled(stall)
    answers = service.answer_normal_requests()

    stalled.answers_when_closed()  # past the client timeout: the stall was cut off
    answers += service.answer_normal_requests()  # while the server closes those connections

    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < ANSWERED_WITHIN, answers
    log = _server_log(service.server, since=log_start)
    assert not [line for line in log if "WORKER TIMEOUT" in line or '"status": 500' in line]
    assert sum('"message": "POST /token 400"' in line for line in log) == stall.count


def _token_request(body: bytes, auth: tuple[str, str], *extra: bytes) -> bytes:
    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode())
    fields = [b"Authorization: Basic " + credentials, b"Content-Length: %d" % len(body), *extra]
    return TOKEN_HEAD + b"".join(field + b"\r\n" for field in fields) + b"\r\n"


def _status_line(sock: socket.socket) -> bytes:
    sock.settimeout(ANSWERED_WITHIN)
    return sock.recv(65536).split(b"\r\n", 1)[0]


def test_a_body_sent_in_pieces_within_the_timeout_is_answered(service: Service) -> None:
    body = b"grant_type=client_credentials"
    host, port = service.server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_token_request(body, service.auth) + body[:5])
        for piece in (body[5:12], body[12:]):
            time.sleep(0.3)
            sock.sendall(piece)
        assert _status_line(sock) == OK


def test_a_body_sent_after_100_continue_is_answered(service: Service) -> None:
    """A client that waits for `100 Continue` before its body must get it: the main loop
    does not wait for such a body, the thread does and gunicorn answers the expectation."""
    body = b"grant_type=client_credentials"
    host, port = service.server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_token_request(body, service.auth, b"Expect: 100-continue"))
        assert _status_line(sock) == b"HTTP/1.1 100 Continue"
        sock.sendall(body)
        assert _status_line(sock) == OK


def test_requests_pipelined_with_their_bodies_are_each_answered(service: Service) -> None:
    body = b"grant_type=client_credentials"
    request = _token_request(body, service.auth) + body
    host, port = service.server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request * 3)
        sock.settimeout(ANSWERED_WITHIN)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 3:
            data = sock.recv(65536)
            assert data, received
            received += data


def test_a_header_of_too_many_fields_is_refused_at_once_whatever_its_body(
    service: Service,
) -> None:
    """The main loop hands it to a thread without reading its fields or waiting for the
    body, and gunicorn's parser answers 431 (RFC 6585; limit_request_fields)."""
    body = b"grant_type=client_credentials"
    many = [b"X-Field-%d: v" % n for n in range(200)]
    host, port = service.server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_token_request(body, service.auth, *many) + body[:1])
        assert _status_line(sock) == b"HTTP/1.1 431 Request Header Fields Too Large"
