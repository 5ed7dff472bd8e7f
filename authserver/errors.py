"""Problem (RFC 9457), render_error_page, and the app-wide error handlers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError

from authserver.extensions import db, login_manager

log = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"


class Problem(Exception):
    """An /api/v1 error, rendered once as application/problem+json."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def to_response(self) -> Response:
        from authserver.api.models import Problem as ProblemBody  # the document's schema

        body = ProblemBody(
            type=f"https://authserver.dev/problems/{self.slug}",
            title=self.slug.replace("-", " ").capitalize(),
            status=self.status,
            detail=self.detail,
            **self.extensions,
        )
        response = jsonify(body.model_dump(mode="json"))
        response.status_code = self.status
        response.mimetype = PROBLEM_MIME
        response.headers.update(self.headers)
        response.headers["Cache-Control"] = "no-store"
        return response


def render_error_page(
    title: str, detail: str, *, status: int, retry_after: int | None = None
) -> tuple[str, int]:
    """A friendly HTML page: one sentence of what happened, one of what to do, never a
    traceback. A refused form (429) says when to try again and links back to the form."""
    back = request.referrer if retry_after and _is_our_page(request.referrer) else None
    page = render_template(
        "errors/page.html",
        title=title,
        detail=detail,
        status=status,
        retry_after=retry_after,
        back=back,
    )
    return page, status


def _is_our_page(url: str | None) -> bool:
    """Only a URL of this server is offered as the way back (no open redirect)."""
    return bool(url) and url.startswith(request.host_url)


# Our own words for what the framework would otherwise answer in its stock sentences.
HTTP_ERROR_WORDS: dict[int, tuple[str, str]] = {
    400: (
        lazy_gettext("This request cannot be used"),
        lazy_gettext("Something in it is missing or malformed. Go back and try again."),
    ),
    403: (
        lazy_gettext("You cannot open this page"),
        lazy_gettext("Your account has no access to it. Sign in with another account."),
    ),
    404: (
        lazy_gettext("This page does not exist"),
        lazy_gettext("The link may be old or mistyped. Go back to the app you came from."),
    ),
    405: (
        lazy_gettext("This page cannot be used that way"),
        lazy_gettext("Open it from a link or a form of the app instead."),
    ),
    413: (
        lazy_gettext("That was too much to send"),
        lazy_gettext("Send less, or go back and try again."),
    ),
    419: (  # not an HTTP status: a refused CSRF token, answered 400 (Flask-WTF's CSRFError)
        lazy_gettext("This form has expired"),
        lazy_gettext("Go back, reload the page, and send the form again."),
    ),
    429: (
        lazy_gettext("Too many attempts"),
        lazy_gettext("To keep your account safe, this form rests for a moment."),
    ),
    500: (
        lazy_gettext("Something went wrong on our side"),
        lazy_gettext("Nothing you did caused it. Try again in a moment."),
    ),
}


def http_error_page(status: int, *, retry_after: int | None = None) -> tuple[str, int]:
    title, detail = HTTP_ERROR_WORDS.get(status, HTTP_ERROR_WORDS[400 if status < 500 else 500])
    return render_error_page(str(title), str(detail), status=status, retry_after=retry_after)


def too_many_attempts_page(wait: int) -> Response:
    """The page for an attempt over its allowance: 429, with Retry-After."""
    page, status = http_error_page(429, retry_after=wait)
    return Response(page, status=status, headers={"Retry-After": str(wait)})


# Endpoints that answer only in RFC 6749 JSON, whatever went wrong (STYLE "Errors").
OAUTH_JSON_PATHS = frozenset(
    {"/token", "/revoke", "/introspect", "/userinfo", "/par", "/device_authorization"}
)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def _wants_problem() -> bool:
    return is_api_path(request.path)


def oauth_json_error(status: int, description: str) -> Response:
    """An RFC 6749 §5.2 error body for failures that happen before Authlib runs."""
    if status == 429:
        code, description = "temporarily_unavailable", "Too many requests; see Retry-After."
    else:
        code = "server_error" if status >= 500 else "invalid_request"
    response = jsonify(error=code, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _handle_http_exception(error: HTTPException) -> Any:
    if error.response is not None:  # already rendered in its protocol's format (Authlib)
        return error.response
    status = error.code or 500
    if request.path in OAUTH_JSON_PATHS:
        return oauth_json_error(status, error.name)
    if _wants_problem():
        slug = (error.name or "error").lower().replace(" ", "-")
        return Problem(status, slug, error.description or error.name).to_response()
    if status == 429:
        return http_error_page(429, retry_after=_retry_after(error))
    if isinstance(error, CSRFError):
        title, detail = HTTP_ERROR_WORDS[419]
        return render_error_page(str(title), str(detail), status=400)
    return http_error_page(status)


def _retry_after(error: HTTPException) -> int:
    """At most one window of the limit that was hit (Flask-Limiter's RateLimitExceeded)."""
    limit = getattr(error, "limit", None)
    return limit.limit.get_expiry() if limit is not None else 60


def _handle_problem(problem: Problem) -> Response:
    return problem.to_response()


RETRY_AFTER_SECONDS = "5"
# What a lost or refused database connection raises: the pool's timeout, the driver's
# connection errors (psycopg OperationalError and InterfaceError), a locked SQLite file.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, SQLAlchemyTimeoutError)


def driver_error_name(error: Exception) -> str:
    """The driver's exception class under SQLAlchemy's wrapper: a log names the cause in a
    word, without the message (which may quote SQL and its parameters)."""
    return type(getattr(error, "orig", None) or error).__name__


# SQLSTATE 42P01 undefined_table and 42703 undefined_column (PostgreSQL, either driver),
# and SQLite's own words for the same: the schema is missing or older than the code.
MISSING_SCHEMA_SQLSTATES = frozenset({"42P01", "42703"})
MISSING_SCHEMA_SQLITE = ("no such table", "no such column")


def is_missing_schema(error: DBAPIError) -> bool:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate in MISSING_SCHEMA_SQLSTATES or str(orig).startswith(MISSING_SCHEMA_SQLITE)


def _handle_programming_error(error: ProgrammingError) -> Any:
    """A schema older than the code (`authserver init` not run yet) is an outage, as on
    SQLite, where the same is an OperationalError; anything else is a crash."""
    if is_missing_schema(error):
        return _handle_database_unavailable(error)
    return _handle_unexpected(error)


def _handle_database_unavailable(error: Exception) -> Any:
    """The database is down or unreachable: roll back (nothing is half-written), and answer
    503 with Retry-After in the endpoint's own format. SQLAlchemy has already discarded the
    dead connections, so the first request after the database returns succeeds."""
    try:
        db.session.rollback()
    except DATABASE_UNAVAILABLE:
        db.session.close()
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.path,
        driver_error_name(error),
    )
    headers = {"Retry-After": RETRY_AFTER_SECONDS, "Cache-Control": "no-store"}
    if request.path in OAUTH_JSON_PATHS:
        response = jsonify(
            error="temporarily_unavailable",
            error_description="The server cannot reach its database; retry shortly.",
        )
        response.status_code = 503
    elif _wants_problem():
        response = Problem(503, "service-unavailable", "The database is unreachable.").to_response()
    else:
        # The page must not ask the database who is signed in: Flask-Login's template context
        # would load the person again and fail the same way.
        g._login_user = login_manager.anonymous_user()
        g.asking_request = None  # nor which app the page is for (authserver/pages/asking.py)
        body, status = render_error_page(
            gettext("We'll be right back"),
            gettext("The service is briefly unavailable. Try again in a few seconds."),
            status=503,
        )
        response = Response(body, status=status, mimetype="text/html")
    response.headers.update(headers)
    return response


def _handle_unexpected(error: Exception) -> Any:
    """A crash: roll back, log it with the traceback, answer in the endpoint's format."""
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _handle_http_exception(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, _handle_problem)
    app.register_error_handler(HTTPException, _handle_http_exception)
    for unavailable in DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, _handle_database_unavailable)
    app.register_error_handler(ProgrammingError, _handle_programming_error)
    app.register_error_handler(Exception, _handle_unexpected)
