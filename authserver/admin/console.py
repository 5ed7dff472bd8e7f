"""The admin blueprint: its gate (access.check_operator), headers, and the helpers its
routes share for reading input and answering."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from authserver.admin.access import Operator, Refusal, check_operator
from authserver.config import current_settings
from authserver.errors import http_error_page, render_error_page
from authserver.extensions import csrf, db
from authserver.identity import sessions
from authserver.mfa.second_step import has_own_factor

admin = Blueprint("admin", __name__, url_prefix="/admin")
csrf.exempt(admin)  # checked in _gate, after the operator is known

# The console's pages may run our one script (progressive enhancement: countdowns,
# confirmations); nothing else changes from the hosted pages' policy.
ADMIN_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
MAX_TEXT = 255
MAX_PAGE = 10_000
PAGE_SIZE = 50


@admin.before_request
def _gate() -> Response | tuple[str, int] | None:
    """access.check_operator first, then CSRF: a stranger's POST gets the same 404 as any
    address, not a CSRF error that would say a form is here (the blueprint is exempt from
    the app-wide check, which would run first)."""
    decision = check_operator(sessions.current(), current_settings().admin_max_age)
    if decision is Refusal.NOT_OPERATOR:
        db.session.commit()  # the session's last use may have moved
        return not_found_page()
    if decision is Refusal.SECOND_FACTOR and not has_own_factor(sessions.current().user):
        db.session.commit()  # an operator with no factor yet sets one up (which counts)
        return redirect(url_for("security.overview"), code=303)
    if isinstance(decision, Refusal):
        db.session.commit()
        return redirect(url_for("identity.sign_in", return_to="admin"), code=303)
    g.operator = decision
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return None


@admin.record_once
def _hide_methods(state: Any) -> None:
    """A wrong method is refused while routing, before the gate: under /admin it gets the
    same 404 as an unknown address, or a 405 would tell a stranger that a form is here."""
    # The app-wide rendering (private to errors.py; imported here to keep that file as is).
    from authserver.errors import _handle_http_exception as handle_http_exception

    def refuse(error: HTTPException) -> Any:
        if request.path == "/admin" or request.path.startswith("/admin/"):
            return not_found_page()
        return handle_http_exception(error)

    state.app.register_error_handler(405, refuse)


def not_found_page() -> tuple[str, int]:
    """The page of any unknown address, word for word: nothing says a console is here."""
    return http_error_page(404)


@admin.after_request
def _headers(response: Response) -> Response:
    if "operator" not in g:
        return response  # a refusal looks like any other page of its kind
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = ADMIN_CSP
    return response


@admin.errorhandler(HTTPException)
def _friendly(error: HTTPException) -> tuple[str, int]:
    db.session.rollback()
    return render_error_page(error.name, error.description or "", status=error.code or 500)


def operator() -> Operator:
    return g.operator


def require_root() -> None:
    """Granting platform roles and retiring keys are root's alone."""
    if not operator().is_root:
        abort(403, "Only a root operator may do this.")


def page(template: str, status: int = 200, **context: Any) -> Response:
    body = render_template(f"admin/{template}", operator=operator(), **context)
    db.session.commit()  # the session's last use may have moved
    return Response(body, status=status, mimetype="text/html")


def done(endpoint: str, **values: Any) -> Response:
    """After a change: commit it with its audit event, and show the page it changed."""
    db.session.commit()
    return redirect(url_for(endpoint, **values), code=303)


def text_arg(name: str, source: Any = None, *, limit: int = MAX_TEXT) -> str:
    """A text parameter, trimmed; longer than `limit` is refused, not cut."""
    value = (source if source is not None else request.args).get(name, "").strip()
    if len(value) > limit:
        abort(400, f"{name} is longer than {limit} characters.")
    return value


def page_number(name: str = "page") -> int:
    """A 1-based page number: ASCII digits only (str.isdigit accepts '٣' and '²')."""
    raw = request.args.get(name, "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, f"{name} must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404, "There is nothing at this address.")
