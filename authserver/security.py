"""Response headers every page gets: a strict CSP, no framing, no referrer, no sniffing."""

from __future__ import annotations

from flask import Response

# No inline script or style anywhere: our pages use one local stylesheet and no JavaScript.
# No form-action: browsers apply it to the redirect after the consent form, and a native
# app's redirect URI has a scheme of its own that no list could name.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response
