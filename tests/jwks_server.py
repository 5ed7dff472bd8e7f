"""A client's jwks_uri for tests: a real HTTP server on loopback that counts its fetches."""

from __future__ import annotations

import socketserver
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.serving import make_server


class JWKSServer:
    """A client's jwks_uri: a real HTTP server on loopback that counts its fetches."""

    def __init__(
        self, document: dict | bytes, status: int = 200, encoding: str | None = None
    ) -> None:
        self.document, self.status, self.fetches = document, status, 0
        self.encoding = encoding  # a Content-Encoding to claim, the body left as it is
        app = Flask("jwks")

        @app.get("/jwks.json")
        def jwks() -> Any:
            self.fetches += 1
            if self.status != 200:
                return "failing on purpose", self.status
            answer = jsonify(self.document)
            if isinstance(self.document, bytes):
                answer = Response(self.document, mimetype="application/json")
            if self.encoding is not None:
                answer.headers["Content-Encoding"] = self.encoding
            return answer

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


class RawServer:
    """A loopback TCP server whose `handler` answers each connection by hand, with its URL
    and a way to stop it."""

    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class HangingUpServer(RawServer):
    """A jwks_uri nobody answers: a loopback listener that closes each connection without a
    word (the fetch fails as unreachable) and counts them."""

    def __init__(self) -> None:
        self.fetches = 0
        owner = self

        class HangUp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.fetches += 1  # the server closes the connection when this returns

        super().__init__(HangUp)


class TricklingServer(RawServer):
    """An HTTP server that answers 200 and then sends its body of `length` bytes one at a
    time, every `every` seconds, while the client keeps reading; or, with `headers`, sends
    a header that way and never gets to the body."""

    def __init__(self, every: float = 0.1, length: int = 60000, headers: bool = False) -> None:
        class Trickle(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                if headers:
                    self.request.sendall(head + b"X-Padding: ")
                else:
                    self.request.sendall(head + b"Content-Length: %d\r\n\r\n" % length)
                try:
                    for _ in range(length):
                        self.request.sendall(b"a" if headers else b" ")
                        time.sleep(every)
                except OSError:  # the client gave up: what the test waits for
                    pass

        super().__init__(Trickle)
