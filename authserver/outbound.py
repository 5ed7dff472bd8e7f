"""Calls to other servers (an upstream provider and a client's jwks_uri, made while a
request waits; a back-channel logout, made by the outbox worker), bounded in size and in
time as a whole.

requests' `timeout` bounds the connect and each read of the socket, not the whole call: a
server that sends a byte just inside every read timeout (of its headers, of its body, or of
compressed blocks that decode to nothing) holds the worker's thread for as long as it likes,
redirects start the clock again, and one that sends without end fills memory. requests has
no total deadline of its own (psf/requests#3099), so `Bounded` gives its sessions one:

- every call, its redirects included, has one deadline; when it passes, a timer shuts
  down the sockets the call uses (through a duplicate of each descriptor, so the timer
  never touches a socket it does not own), which ends whatever read is waiting on them;
  a connect, which has no socket to shut down yet, is given only what is left of it;
- each connect and read has the read timeout, whatever the caller passed or forgot;
- each answer is read whole, decoded, at most `max_bytes` (a longer Content-Length is
  refused before any of the body is read), or not at all where only its status counts;
- any failure is a `requests` exception.

The one wait this cannot end is a DNS lookup, which Python cannot interrupt; it is made
once per connect, also when it fails (urllib3's own connect would ask again).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family

MAX_REDIRECTS = 3
_READ_SIZE = 8192


class AnswerTooLarge(requests.RequestException):
    pass


class AnswerTooSlow(requests.Timeout):
    pass


@dataclass(frozen=True)
class Bounds:
    max_bytes: int  # of each answer, decoded
    seconds: float  # the whole call, redirects included
    read_timeout: float | tuple[float, float]  # the connect, and each read of the socket
    reads_body: bool = True  # False: only the status and headers count, the body is dropped


class Deadline:
    """One call's end: past it, the sockets `watch` was given are shut down."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self._expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        try:
            self._timer.start()
        except RuntimeError as error:  # no thread to be had: the call cannot be bounded
            raise requests.ConnectionError(f"no deadline for the call: {error}") from error

    @property
    def passed(self) -> bool:
        return self._expired or time.monotonic() >= self.at

    def watch(self, sock: socket.socket) -> None:
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            self._sockets.append(duplicate)
            if self.passed:
                _shut(duplicate)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for duplicate in self._sockets:
                duplicate.close()  # the call's own descriptor stays open for the pool
            self._sockets.clear()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for duplicate in self._sockets:
                _shut(duplicate)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # the other side may have closed it already
        sock.shutdown(socket.SHUT_RDWR)  # shuts the connection, for every descriptor of it


_local = threading.local()


def _current() -> Deadline | None:
    """The deadline of the call this thread is making, if it is making one."""
    return getattr(_local, "deadline", None)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """The deadline of the call this thread is making, begun now if it is not in one (a
    redirect is sent inside the call that received it, and so shares its deadline; so
    would a call made from a response hook, which nothing of ours does)."""
    current = _current()
    if current is not None:
        yield current
        return
    _local.deadline = current = Deadline(seconds)
    try:
        yield current
    finally:
        _local.deadline = None
        current.close()


def _addresses(name: str, port: int) -> list[str]:
    """The addresses of `name` that urllib3 would try, in the order it would try them."""
    found = socket.getaddrinfo(name, port, allowed_gai_family(), socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def _watch(sock: socket.socket | None) -> None:
    current = _current()
    if sock is not None and current is not None:
        current.watch(sock)


class _Watched:
    """A urllib3 connection whose sockets the present call's deadline watches: a new one
    once connected (before any TLS handshake), a kept-alive one when it is used again."""

    sock: socket.socket | None
    timeout: Any
    host: str
    port: int
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        """urllib3's connect, to one address of the name at a time, each within what is
        left of the deadline: urllib3 gives every address the whole connect timeout, so a
        name with several addresses that do not answer would hold the call that many
        times it, and the timer cannot end a connect it has no socket of yet."""
        current = _current()
        if current is None:  # a connection used outside BoundedAdapter.send: none of ours
            return super()._new_conn()  # type: ignore[misc]
        name, connect_timeout = self._dns_host, self.timeout
        try:
            addresses = _addresses(name, self.port)
        except socket.gaierror as failed:  # urllib3's own error, without a second lookup
            connection: Any = self
            raise urllib3.exceptions.NameResolutionError(self.host, connection, failed) from failed
        error: Exception = urllib3.exceptions.ConnectTimeoutError(self, "the deadline passed")
        for address in addresses:
            left = current.at - time.monotonic()
            if left <= 0:
                break
            self._dns_host = address  # the TLS server name stays self.host
            if not isinstance(connect_timeout, int | float) or connect_timeout > left:
                self.timeout = left
            try:
                sock = super()._new_conn()  # type: ignore[misc]
            except urllib3.exceptions.ConnectTimeoutError as failed:  # refused, or no answer
                error = failed
                continue
            finally:
                self._dns_host, self.timeout = name, connect_timeout
            _watch(sock)
            return sock
        raise error

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _read_body(response: requests.Response, *, max_bytes: int, watch: Deadline) -> bytes:
    """The body of a response sent with `stream=True`, decoded as its Content-Encoding says."""
    length = response.headers.get("Content-Length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise AnswerTooLarge(f"the answer says it is longer than {max_bytes} bytes")
    body = b""
    try:
        # read1: what one read of the socket gives (iter_content waits to fill its chunk),
        # so that the size is looked at after every read.
        while chunk := response.raw.read1(_READ_SIZE, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise AnswerTooLarge(f"the answer is longer than {max_bytes} bytes")
    except urllib3.exceptions.DecodeError as error:
        raise _as_too_slow(watch, requests.exceptions.ContentDecodingError(error)) from error
    except urllib3.exceptions.HTTPError as error:  # cut off, or a read timed out
        raise _as_too_slow(watch, requests.ConnectionError(error)) from error
    return body


def _as_too_slow(watch: Deadline, error: requests.RequestException) -> requests.RequestException:
    """`error`, or AnswerTooSlow if the deadline caused it."""
    return AnswerTooSlow("the answer took longer than its deadline") if watch.passed else error


class BoundedAdapter(HTTPAdapter):
    """A transport adapter for sessions whose callers we do not write (Authlib's OAuth
    client): it reads each answer through `_read_body`, and callers then read
    `response.content`, which holds the bounded body."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):  # SOCKS pools are left as they are
            manager.pool_classes_by_scheme = self.poolmanager.pool_classes_by_scheme
        return manager

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        kwargs["timeout"] = kwargs.get("timeout") or self.bounds.read_timeout
        with deadline(self.bounds.seconds) as watch:
            try:
                response = super().send(request, stream=True, **kwargs)
            except requests.RequestException as error:
                raise _as_too_slow(watch, error) from error
            try:
                if self.bounds.reads_body:
                    response._content = _read_body(
                        response, max_bytes=self.bounds.max_bytes, watch=watch
                    )
                else:
                    response.raw.close()  # unread, so not fit for the next request
                    response._content = b""
                response._content_consumed = True
            finally:
                response.close()  # back to the pool when read to the end, else closed
            # The shutdown reads as the end of the headers, or of a body without a length.
            if watch.passed:
                raise AnswerTooSlow("the answer took longer than its deadline")
        return response


class Bounded(ABC):
    """Mix into a `requests.Session` subclass, before it: every call the session makes is
    held to `bounds()`, read when the session is made (so that tests can change the module
    constants each subclass reads)."""

    @abstractmethod
    def bounds(self) -> Bounds: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bounds = self.bounds()
        self.max_redirects = MAX_REDIRECTS
        adapter = BoundedAdapter(self._bounds)
        self.mount("https://", adapter)  # type: ignore[attr-defined]
        self.mount("http://", adapter)  # type: ignore[attr-defined]

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with deadline(self._bounds.seconds):  # the redirects' sends happen inside this one
            return super().send(request, **kwargs)  # type: ignore[misc]
