"""What the hosted forms share: reading a field safely, and answering with a page."""

from __future__ import annotations

from flask import Response, render_template, request

from authserver.orgs.invitations import EMAIL

MAX_EMAIL = 255
MAX_NAME = 100
MAX_PASSWORD = 1024


def form_text(name: str, limit: int) -> str:
    """A form field, trimmed, and cut one past its limit: a huge value fails the length
    check (never a 500, and never silently shortened)."""
    return request.form.get(name, "").strip()[: limit + 1]


def form_password(name: str) -> str:
    """Passwords are not trimmed; one longer than the policy allows fails the policy."""
    return request.form.get(name, "")[: MAX_PASSWORD + 1]


def is_email(value: str) -> bool:
    """ASCII only: an internationalized address needs SMTPUTF8 (RFC 6531) end to end, which
    a relay may lack; a mangled form value (U+FFFD) is refused with them."""
    return len(value) <= MAX_EMAIL and value.isascii() and bool(EMAIL.match(value.lower()))


def is_display_name(value: str) -> bool:
    return 0 < len(value) <= MAX_NAME and value.isprintable()


def page(template: str, *, status: int = 200, **context: object) -> Response:
    body = render_template(template, **context)
    return Response(
        body, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"}
    )
