"""A client's jwks_uri for tests: a real HTTP server on loopback that counts its fetches."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, jsonify
from werkzeug.serving import make_server


class JWKSServer:
    """A client's jwks_uri: a real HTTP server on loopback that counts its fetches."""

    def __init__(self, document: dict | bytes) -> None:
        self.document, self.fetches = document, 0
        app = Flask("jwks")

        @app.get("/jwks.json")
        def jwks() -> Any:
            self.fetches += 1
            if isinstance(self.document, bytes):
                return self.document, 200, {"Content-Type": "application/json"}
            return jsonify(self.document)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
