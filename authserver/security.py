"""Response headers every page gets (a strict CSP, no framing, no cross-site referrer, no
sniffing), and input no endpoint accepts."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request
from flask_babel import gettext

from authserver.api.body import JSON, read_json
from authserver.errors import (
    OAUTH_JSON_PATHS,
    Problem,
    is_api_path,
    oauth_json_error,
    render_error_page,
)
from authserver.text import has_unstorable_text

# No inline script or style anywhere: our pages use one local stylesheet, and one local
# script for WebAuthn (static/webauthn.js), which fetches its options from us.
# img-src https: lets the browser load a client's registered logo_uri (https only, checked
# at registration) from its own origin; fetching it through us would make the server
# request any URL a client registers (SSRF). Our own marks and the brand's logo may be local.
# No form-action: browsers apply it to the redirect after the consent form, and a native
# app's redirect URI has a scheme of its own that no list could name.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' https: data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


# Every response. Referrer-Policy is same-origin, not no-referrer: over https Flask-WTF
# refuses a form POST without a same-site Referer (WTF_CSRF_SSL_STRICT), and no URL of
# ours leaves for another site.
EVERY_RESPONSE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))


def add_security_headers(response: Response) -> Response:
    for name, value in EVERY_RESPONSE_HEADERS:
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


# The one body type each kind of endpoint accepts. RFC 6749 §3.2 (and RFC 7009 §2.1,
# RFC 7662 §2.1, RFC 6750 §2.2, OIDC Core §3.1.2.1 for a POSTed /authorize) name
# application/x-www-form-urlencoded; our hosted pages' forms send it too (none has an
# enctype); /api/v1 takes JSON. Anything else (multipart, text/plain, JSON at /token) is
# refused before a parser or a view reads it.
FORM = "application/x-www-form-urlencoded"


def accepted_body_type(path: str) -> str:
    return JSON if is_api_path(path) else FORM


def refuse_unaccepted_body() -> Response | tuple[str, int] | None:
    """A before_request hook: a body of another type than the endpoint's is refused in the
    endpoint's format. A request without a Content-Type carries nothing any parser reads."""
    accepted = accepted_body_type(request.path)
    if request.mimetype in ("", accepted):
        return None
    if request.path in OAUTH_JSON_PATHS:  # RFC 6749 §5.2: invalid_request, 400
        return oauth_json_error(400, f"The request body must be {accepted}.")
    if is_api_path(request.path):
        return Problem(415, "unsupported-media-type", f"Send the body as {accepted}.").to_response()
    return render_error_page(
        gettext("This form cannot be read"),
        gettext("Go back to the page and send the form from there."),
        status=415,
    )


def refuse_unstorable_text() -> None:
    """A before_request hook, after refuse_unaccepted_body: every string the request carries
    (query, path, form, JSON; names and values, every value of a repeated parameter; the
    User-Agent, which sessions and audit events keep) must be text we can store
    (authserver/text.py), alike on both databases, else 400 in the endpoint's format."""
    values: list[Any] = [request.headers.get("User-Agent", ""), *(request.view_args or {}).values()]
    # Parsed only when there is something to parse: most requests carry no query, and only
    # a form body has form fields (refuse_unaccepted_body has let no other through).
    if request.query_string:
        values.extend(request.args.items(multi=True))
    if request.mimetype == FORM:
        values.extend(request.form.items(multi=True))
    elif request.is_json:
        read_json()  # the API's own parser, which answers problem+json
    if has_unstorable_text(values):
        abort(400, "The request contains a NUL character or a lone surrogate.")
