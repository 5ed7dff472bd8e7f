"""Calls to other servers against a hostile one on loopback: however it sends (or does not
send) its headers, body, compression and redirects, a call ends by its deadline, its size
bound holds, and its failure is a `requests` exception."""

from __future__ import annotations

import gzip
import os
import socket
import socketserver
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from authserver import outbound
from authserver.outbound import AnswerTooLarge, AnswerTooSlow, Bounded, Bounds, Deadline
from tests.certificates import loopback_certificate
from tests.jwks_server import RawServer

SECONDS = 1.0  # each call's deadline in these tests
MAX_BYTES = 64 * 1024
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB of zeros in 64 KB


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def trickle(sock: socket.socket, data: bytes, every: float = 0.1) -> None:
    for byte in data:
        sock.sendall(bytes([byte]))
        time.sleep(every)


def answer(sock: socket.socket, path: str) -> bool:
    """Answer one request; False closes the connection."""
    if path == "/ok":
        sock.sendall(head(Content_Length=2) + b"{}")
    elif path == "/slow-headers":  # a header byte every 0.1 s, for 10 s
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        trickle(sock, b"a" * 100)
        sock.sendall(b"\r\nContent-Length: 2\r\n\r\n{}")
    elif path == "/slow-body-without-length":  # the end of a body is the connection's end
        sock.sendall(head(Connection="close"))
        trickle(sock, b" " * 100)
        return False
    elif path == "/compressed-nothing":  # deflate blocks that decode to nothing, for 10 s
        sock.sendall(head(Content_Encoding="deflate", Connection="close") + b"\x78\x9c")
        for _ in range(100):
            sock.sendall(b"\x00\x00\x00\xff\xff")
            time.sleep(0.1)
        return False
    elif path == "/silent":  # headers, then nothing for 10 s
        sock.sendall(head(Content_Length=100) + b"{")
        time.sleep(10)
        return False
    elif path == "/says-huge":  # a length over the bound, then nothing for 10 s
        sock.sendall(head(Content_Length=10**10))
        time.sleep(10)
        return False
    elif path == "/late-body":  # the body comes after the headers have been read
        sock.sendall(head(Content_Length=2))
        time.sleep(0.3)
        sock.sendall(b"{}")
    elif path == "/bomb":
        sock.sendall(head(Content_Encoding="gzip", Content_Length=len(BOMB)) + BOMB)
    elif path == "/not-gzip":
        sock.sendall(head(Content_Encoding="gzip", Content_Length=9) + b"not gzip!")
    elif path.startswith("/hop"):  # a redirect each 0.4 s: /hop0 -> /hop1 -> ... -> /ok
        hop = int(path.removeprefix("/hop"))
        time.sleep(0.4)
        target = f"/hop{hop - 1}" if hop > 0 else "/ok"
        sock.sendall(head("302 Found", Location=target, Content_Length=0))
    elif path.startswith("/fast-hop"):
        hop = int(path.removeprefix("/fast-hop"))
        target = f"/fast-hop{hop - 1}" if hop > 0 else "/ok"
        sock.sendall(head("302 Found", Location=target, Content_Length=0))
    return True


class HostileServer(RawServer):
    """A loopback HTTP/1.1 server (keep-alive, optionally TLS) answering by `answer`; it
    records the client port of each request it reads."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        seen = self.seen = []  # (path, client port)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock = self.request
                try:
                    if context is not None:
                        sock = context.wrap_socket(sock, server_side=True)
                    reader = sock.makefile("rb")
                    while line := reader.readline():
                        path = urlsplit(line.split()[1].decode()).path  # a proxy's is a URL
                        while reader.readline() not in (b"\r\n", b""):
                            pass
                        seen.append((path, self.client_address[1]))
                        if not answer(sock, path):
                            return
                except (OSError, ssl.SSLError):
                    pass  # the client hung up: what most tests wait for

        super().__init__(Handler)
        scheme = "https" if context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"


class ShortSession(Bounded, requests.Session):
    read_timeout = 5.0

    def bounds(self) -> Bounds:
        return Bounds(max_bytes=MAX_BYTES, seconds=SECONDS, read_timeout=self.read_timeout)


def never_answer(address: tuple[str, int]) -> list[socket.socket]:
    """A listener on `address` whose connects are never answered: it accepts no one and its
    backlog is full, so Linux drops each new connection's SYN; with the sockets to close."""
    listener = socket.socket()
    listener.bind(address)
    listener.listen(0)
    waiting = [socket.socket() for _ in range(2)]
    for sock in waiting:
        sock.setblocking(False)
        sock.connect_ex(listener.getsockname())  # the first fills the backlog
    return [*waiting, listener]


@pytest.fixture
def unanswering() -> Iterator[str]:
    sockets = never_answer(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sockets[-1].getsockname()[1]}"
    for sock in sockets:
        sock.close()


class LongTimeouts(ShortSession):
    """5 s to connect and per read inside the 1 s deadline: what ends a call is the deadline."""

    read_timeout = 5.0


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    running = HostileServer()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileServer, Path]]:
    cert, key = loopback_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    running = HostileServer(context)
    yield running, cert
    running.stop()


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        call()
    except BaseException as error:  # noqa: BLE001 (the test looks at it)
        return time.monotonic() - started, error
    return time.monotonic() - started, None


@pytest.mark.parametrize(
    "path", ["/slow-headers", "/slow-body-without-length", "/compressed-nothing", "/hop4"]
)
def test_a_call_ends_at_its_deadline_however_the_server_stretches_it(
    server: HostileServer, path: str
) -> None:
    """Each byte comes well within the read timeout; redirects each come in less than the
    deadline: only one deadline for the whole call ends it."""
    with ShortSession() as session:
        took, error = timed(lambda: session.get(server.url + path))
    assert isinstance(error, AnswerTooSlow)
    assert took < SECONDS + 1  # without the deadline: 2 s of redirects, 10 s of the others


def test_a_kept_alive_connection_is_held_to_the_deadline_too(server: HostileServer) -> None:
    with ShortSession() as session:
        assert session.get(server.url + "/ok").json() == {}
        took, error = timed(lambda: session.get(server.url + "/slow-headers"))
        assert isinstance(error, AnswerTooSlow) and took < SECONDS + 1
        assert session.get(server.url + "/ok").json() == {}  # a new connection: it works
    ports = [port for path, port in server.seen[-3:]]
    assert ports[0] == ports[1] != ports[2]


def test_a_call_that_ends_in_time_leaves_its_connection_working(server: HostileServer) -> None:
    with ShortSession() as session:
        assert session.get(server.url + "/ok").json() == {}
        time.sleep(SECONDS + 0.2)  # past the first call's deadline: its timer must be off
        assert session.get(server.url + "/ok").json() == {}
    ports = [port for path, port in server.seen[-2:]]
    assert ports[0] == ports[1]


def test_https_calls_are_held_to_the_deadline(
    tls_server: tuple[HostileServer, Path],
) -> None:
    running, cert = tls_server
    with ShortSession() as session:
        assert session.get(running.url + "/ok", verify=str(cert)).json() == {}
        took, error = timed(lambda: session.get(running.url + "/slow-headers", verify=str(cert)))
    assert isinstance(error, AnswerTooSlow) and took < SECONDS + 1


def test_each_read_has_the_read_timeout_though_the_caller_gave_none(
    server: HostileServer,
) -> None:
    class Patient(ShortSession):
        read_timeout = 0.3

        def bounds(self) -> Bounds:
            return Bounds(max_bytes=MAX_BYTES, seconds=5, read_timeout=self.read_timeout)

    with Patient() as session:
        took, error = timed(lambda: session.get(server.url + "/silent"))
    assert isinstance(error, requests.ConnectionError) and not isinstance(error, AnswerTooSlow)
    assert took < 2  # the read timeout, not the 5 s deadline


def test_a_length_over_the_bound_is_refused_before_the_body_is_read(
    server: HostileServer,
) -> None:
    with ShortSession() as session:
        took, error = timed(lambda: session.get(server.url + "/says-huge"))
    assert isinstance(error, AnswerTooLarge) and took < SECONDS  # not read: the server sleeps


def test_the_bound_is_on_the_decoded_answer_and_memory_stays_small(
    server: HostileServer,
) -> None:
    tracemalloc.start()
    try:
        with ShortSession() as session:
            _, error = timed(lambda: session.get(server.url + "/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, AnswerTooLarge)
    assert peak < 4 * 1024 * 1024  # of the 64 MiB the answer decodes to


def test_an_answer_that_does_not_decode_is_a_requests_error(server: HostileServer) -> None:
    with ShortSession() as session:
        _, error = timed(lambda: session.get(server.url + "/not-gzip"))
    assert isinstance(error, requests.RequestException)


def test_redirects_are_followed_a_few_times_only(server: HostileServer) -> None:
    with ShortSession() as session:
        assert session.get(server.url + "/fast-hop2").json() == {}
        _, error = timed(lambda: session.get(server.url + "/fast-hop3"))
    assert isinstance(error, requests.TooManyRedirects)


def test_a_connect_that_is_never_answered_ends_at_the_deadline(unanswering: str) -> None:
    with LongTimeouts() as session:
        took, error = timed(lambda: session.get(unanswering + "/ok"))
    assert isinstance(error, requests.Timeout) and took < SECONDS + 1  # not the 5 s timeout


def test_a_name_whose_addresses_never_answer_ends_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3 gives each address the whole connect timeout: three would take 15 s."""
    sockets = never_answer(("127.0.0.2", 0))
    port = sockets[-1].getsockname()[1]
    for address in ("127.0.0.3", "127.0.0.4"):
        sockets += never_answer((address, port))
    monkeypatch.setattr(
        outbound, "_addresses", lambda name, port: ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    )
    try:
        with LongTimeouts() as session:
            took, error = timed(lambda: session.get(f"http://three.test:{port}/ok"))
    finally:
        for sock in sockets:
            sock.close()
    assert isinstance(error, requests.Timeout) and took < SECONDS + 1


def test_a_name_that_does_not_resolve_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup that fails may have waited out the resolver's timeouts: asking again, as
    urllib3's own connect would, doubles that wait, which no deadline can cut short."""
    lookups: list[str] = []

    def no_such_name(host: str, *args: object, **kwargs: object) -> list[object]:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with ShortSession() as session, pytest.raises(requests.ConnectionError, match="resolve"):
        session.get("http://nowhere.test/ok")
    assert lookups == ["nowhere.test"]


def test_a_call_through_a_proxy_is_held_to_the_deadline(server: HostileServer) -> None:
    with LongTimeouts() as session:
        call = lambda: session.get("http://a.invalid/slow-headers", proxies={"http": server.url})  # noqa: E731
        took, error = timed(call)
    assert isinstance(error, AnswerTooSlow) and took < SECONDS + 1


def test_an_answer_left_unread_does_not_spoil_the_next_call(server: HostileServer) -> None:
    class StatusOnly(ShortSession):
        def bounds(self) -> Bounds:
            return Bounds(max_bytes=0, seconds=SECONDS, read_timeout=5, reads_body=False)

    with StatusOnly() as session:
        assert session.get(server.url + "/late-body").status_code == 200
        assert session.get(server.url + "/late-body").status_code == 200


def test_a_call_without_a_thread_for_its_deadline_is_a_requests_error(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Timer, "start", no_thread)
    with ShortSession() as session:
        _, error = timed(lambda: session.get(server.url + "/ok"))
    assert isinstance(error, requests.RequestException)


def test_a_deadline_is_passed_at_its_time_though_its_timer_has_not_fired() -> None:
    """The timer's thread may run late: a call that ends then is too slow all the same."""
    deadline = Deadline(60)
    try:
        assert not deadline.passed
        deadline.at = time.monotonic()
        assert deadline.passed
    finally:
        deadline.close()


def test_calls_leave_no_descriptor_and_no_timer_behind(server: HostileServer) -> None:
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    def timers() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)]

    before = descriptors()
    with ShortSession() as session:
        for path in ["/ok", "/slow-headers", "/bomb", "/fast-hop2", "/not-gzip"] * 2:
            timed(lambda: session.get(server.url + path))  # noqa: B023
    ended = time.monotonic() + SECONDS / 2  # a cancelled timer's thread ends at once, and
    while timers() and time.monotonic() < ended:  # a forgotten one SECONDS after its call
        time.sleep(0.05)
    assert timers() == []
    settled = time.monotonic() + 5  # the server's side closes its end when it notices
    while descriptors() > before and time.monotonic() < settled:
        time.sleep(0.05)
    assert descriptors() <= before
