"""Calls to other servers against a hostile one on loopback: however it sends (or does not
send) its headers, body, compression and redirects, a call ends by its deadline, its size
bound holds, and its failure is a `requests` exception."""

from __future__ import annotations

import gzip
import socket
import socketserver
import ssl
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from authserver.outbound import AnswerTooLarge, AnswerTooSlow, Bounded, Bounds
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
                        path = line.split()[1].decode()
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
    assert isinstance(error, AnswerTooLarge) and took < SECONDS / 2


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
