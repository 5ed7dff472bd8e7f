"""Discovery and the JWKS: the same bytes for every caller, answered from memory.

Every client and resource server polls these two documents, so they are the most requested
URLs. Flask's request machinery (request and app contexts, the session, CSRF, the rate
limiter's hook, our own hooks) costs several times what serving the bytes does
(benchmarks/RESULTS.md), so GET and HEAD of these paths are answered by a WSGI layer in
front of Flask. They still get what every response gets: the security headers, a request
id, the request log line and, when enabled, metrics. Any other method reaches Flask's
routes, which answer with the same `answer()`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Flask, current_app
from werkzeug.http import parse_etags, quote_etag

from authserver.config import Settings
from authserver.errors import RETRY_AFTER_SECONDS
from authserver.keys import KeyStore, KeyStoreError
from authserver.logs import REQUEST_ID_HEADER, log_request, request_id_from
from authserver.metrics import observe_request
from authserver.oidc.discovery import build_metadata
from authserver.security import EVERY_RESPONSE_HEADERS

DISCOVERY_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
JWKS_PATH = "/jwks.json"
DISCOVERY_MAX_AGE = 3600

UNAVAILABLE_BODY = json.dumps(
    {
        "error": "temporarily_unavailable",
        "error_description": "The signing keys cannot be read; retry shortly.",
    }
).encode()
UNAVAILABLE_HEADERS = (
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(UNAVAILABLE_BODY))),
    ("Cache-Control", "no-store"),
    ("Retry-After", RETRY_AFTER_SECONDS),
    *EVERY_RESPONSE_HEADERS,
)

log = logging.getLogger(__name__)

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class PublishedDocuments:
    def __init__(self, app: Flask, settings: Settings, keys: KeyStore) -> None:
        self.app = app
        self.settings = settings
        self.keys = keys
        self._discovery: tuple[bytes, str] | None = None

    def answer(self, path: str, if_none_match: str | None) -> tuple[int, Headers, bytes]:
        """Status, headers and body for GET `path`: 304 when If-None-Match names the ETag."""
        if path == JWKS_PATH:
            # Rebuilt by the key store only when the published set changes.
            body, etag = self.keys.jwks_document()
            content_type, max_age = "application/jwk-set+json", self.settings.jwks_max_age
        else:
            body, etag = self._discovery_document()
            content_type, max_age = "application/json", DISCOVERY_MAX_AGE
        headers = [
            ("Content-Type", content_type),
            ("Cache-Control", f"public, max-age={max_age}"),
            ("ETag", quote_etag(etag)),
            ("Access-Control-Allow-Origin", "*"),
            *EVERY_RESPONSE_HEADERS,
        ]
        # RFC 9110 §13.1.2: If-None-Match compares weakly, and "*" matches any document.
        if if_none_match and parse_etags(if_none_match).contains_weak(etag):
            return 304, headers, b""
        return 200, [*headers, ("Content-Length", str(len(body)))], body

    def _discovery_document(self) -> tuple[bytes, str]:
        """Built on first use, once every route is registered: it names only served ones."""
        if self._discovery is None:
            with self.app.app_context():
                body = json.dumps(build_metadata(self.app, self.settings)).encode()
            self._discovery = body, _etag_of(body)
        return self._discovery

    def wrap(self, wsgi_app: WSGIApp) -> WSGIApp:
        """`wsgi_app` with GET and HEAD of the published paths answered in front of it."""
        served = frozenset((*DISCOVERY_PATHS, JWKS_PATH))

        def published_or_flask(environ: dict[str, Any], start_response: StartResponse) -> Any:
            method = environ.get("REQUEST_METHOD", "")
            path = environ.get("PATH_INFO", "")
            if path not in served or method not in ("GET", "HEAD"):
                return wsgi_app(environ, start_response)
            return self._serve(environ, start_response, method, path)

        return published_or_flask

    def _serve(
        self, environ: dict[str, Any], start_response: StartResponse, method: str, path: str
    ) -> list[bytes]:
        started = time.perf_counter()
        try:
            status, headers, body = self.answer(path, environ.get("HTTP_IF_NONE_MATCH"))
        except KeyStoreError as error:
            # An unreadable key file (a bad copy into the keys directory): say so in the log,
            # answer 503 until it is fixed; Flask's handlers are not in front of us here.
            log.error("cannot serve %s: %s", path, error)
            status, headers, body = 503, list(UNAVAILABLE_HEADERS), UNAVAILABLE_BODY
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        headers.append((REQUEST_ID_HEADER, request_id))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        log_request(
            method,
            path,
            status,
            started=started,
            remote_addr=environ.get("REMOTE_ADDR"),
            request_id=request_id,
        )
        if self.settings.metrics:
            observe_request(path, method, status, started)
        return [body] if method == "GET" else []


def _etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def current_published() -> PublishedDocuments:
    return current_app.extensions["authserver.published"]
