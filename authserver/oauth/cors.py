"""CORS for the endpoints a browser app calls itself: /token, /revoke and /userinfo.

A single-page app (a public client with PKCE) redeems its code, refreshes, revokes and reads
/userinfo with fetch from its own origin. The Fetch standard's CORS protocol lets a page
read a cross-origin response only when the response names its origin. We name the origins
of the client's registered redirect URIs and nothing else; never with credentials (these
endpoints take no cookie), and always with `Vary: Origin`, since the answer depends on it.

A preflight (OPTIONS) names no client, so it is answered for the origin of any registered
client's redirect URI; the request that follows is then checked against its own client (the
one it authenticates as at /token and /revoke, the one its token was issued to at
/userinfo). A request that names no known client can only fail, and its error may be read
by any registered client's origin, so the app can show why.

/introspect is left out: only confidential clients and services may call it, and a
browser cannot keep a secret. Discovery and the JWKS are public to every origin
(oidc/published.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from authserver.models import OAuthClient
from authserver.oauth.client_cache import current_client_cache

CORS_ENDPOINTS = {
    "oauth.issue_token": "POST",
    "oauth.revoke_token": "POST",
    "oidc.userinfo": "GET, POST",
}
# RFC 9449: a browser app sends its proof in DPoP and must read the server's DPoP-Nonce.
ALLOWED_HEADERS = "Authorization, Content-Type, DPoP"
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After, DPoP-Nonce"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """The origin (RFC 6454 §4) of an http(s) URI, serialised as browsers send it in
    `Origin` (§6.2: lowercase scheme and host, no default port); None for other schemes,
    such as a native app's own."""
    parts = urlsplit(uri)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def origins_of(redirect_uris: list[str]) -> set[str]:
    return {origin for origin in map(origin_of, redirect_uris) if origin is not None}


def answer_preflight() -> Response | None:
    """A before_request hook: OPTIONS to a CORS endpoint is answered here, not by a view."""
    if request.endpoint not in CORS_ENDPOINTS:
        return None
    # g may outlive one request (an app context a test or the CLI holds): the client that
    # _may_read() checks must be this request's.
    g.pop("client_id", None)
    if request.method != "OPTIONS":
        return None
    methods = CORS_ENDPOINTS[request.endpoint]
    response = Response(status=204, headers={"Allow": f"{methods}, OPTIONS"})
    origin = request.headers.get("Origin")
    if origin and origin in origins_of(OAuthClient.every_redirect_uri()):
        response.headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return response


def add_cors_headers(response: Response) -> Response:
    """An after_request hook: name the caller's origin when its client registered it."""
    if request.endpoint not in CORS_ENDPOINTS:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if request.method != "OPTIONS" and origin and _may_read(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def _may_read(origin: str) -> bool:
    client_id = g.get("client_id")  # set by the server's query_client, or by /userinfo
    if client_id is None:
        return origin in origins_of(OAuthClient.every_redirect_uri())
    client = current_client_cache().find(client_id)
    return client is not None and origin in origins_of(client.redirect_uris)


def init_cors(app: Flask) -> None:
    app.before_request(answer_preflight)
    app.after_request(add_cors_headers)
