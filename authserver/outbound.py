"""Answers read from other servers (an upstream provider, a client's jwks_uri), bounded in
size and in time.

requests' `timeout` bounds the connect and each read of the socket, not the whole answer:
a server that sends a byte just inside every read timeout holds the worker's thread for as
long as it likes, and one that sends without end fills its memory. Every answer we read in
a request is read here instead, so neither is possible: at most `max_bytes`, and given up
once the deadline has passed (one read timeout past it at the worst, as the read that is
waiting is not interrupted).
"""

from __future__ import annotations

import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class AnswerTooLarge(requests.RequestException):
    pass


class AnswerTooSlow(requests.Timeout):
    pass


def read_body(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    """The body of a response fetched with `stream=True`, decoded as its Content-Encoding
    says; `deadline` is a `time.monotonic()` value."""
    body = b""
    # read1: what one read of the socket gives (iter_content waits to fill its chunk, byte
    # by trickled byte), so the deadline is looked at after every read.
    while chunk := response.raw.read1(8192, decode_content=True):
        body += chunk
        if len(body) > max_bytes:
            raise AnswerTooLarge(f"the answer is longer than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise AnswerTooSlow("the answer took longer than its deadline")
    return body


class BoundedAdapter(HTTPAdapter):
    """A transport adapter that reads every answer through `read_body`, for a
    `requests.Session` whose callers we do not write (Authlib's OAuth client): they read
    `response.content`, which then holds the bounded body."""

    def __init__(self, *, max_bytes: int, seconds: float) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.seconds = seconds

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any):  # noqa: ANN201
        deadline = time.monotonic() + self.seconds
        response = super().send(request, stream=True, **kwargs)
        if stream:
            return response
        try:
            response._content = read_body(response, max_bytes=self.max_bytes, deadline=deadline)
            response._content_consumed = True
        finally:
            response.close()  # back to the pool when read to the end, else closed
        return response


def bounded_session(session: requests.Session, *, max_bytes: int, seconds: float) -> None:
    """Make `session` read every answer, over http and https, through `read_body`."""
    adapter = BoundedAdapter(max_bytes=max_bytes, seconds=seconds)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
