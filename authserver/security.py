"""Response headers every page gets (a strict CSP, no framing, no cross-site referrer, no
sniffing), and input no endpoint accepts."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request

# No inline script or style anywhere: our pages use one local stylesheet, and one local
# script for WebAuthn (static/webauthn.js), which fetches its options from us.
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


def refuse_nul_characters() -> None:
    """A before_request hook. PostgreSQL text cannot hold NUL (the driver raises DataError,
    which would be a 500), and no valid parameter of ours contains one, so a request that
    carries one is refused up front, alike on both databases, in the endpoint's format.
    A JSON body nested too deeply to parse is refused here too."""
    # listvalues(): every value of a repeated parameter, not only the first.
    values: list[Any] = [*request.args.listvalues(), *(request.view_args or {}).values()]
    if request.mimetype == "application/x-www-form-urlencoded":
        values += request.form.listvalues()
    elif request.is_json:
        try:
            values.append(request.get_json(silent=True))
        except RecursionError:
            abort(400, "The JSON document is nested too deeply.")
    if _has_nul(values):
        abort(400, "The request contains a NUL character.")


def _has_nul(value: Any) -> bool:
    """Walked with a stack, not recursion: a JSON body may nest as deep as it likes."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
