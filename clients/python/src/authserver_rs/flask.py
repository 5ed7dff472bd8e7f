"""Flask integration: `@require_token(verifier, permission=...)` on a view; Bearer tokens, and
DPoP-bound tokens with their proof; 401/403 with an RFC 6750 / RFC 9449 challenge, 503 when
the request cannot be decided now (authserver, or a shared replay cache, out of reach)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, g, jsonify, request

from authserver_rs.claims import AccessToken
from authserver_rs.dpop import DPoPRequest
from authserver_rs.errors import CannotDecide, TokenRefused
from authserver_rs.guard import RETRY_AFTER, Requirement, authorize, challenge
from authserver_rs.verifier import Verifier

View = TypeVar("View", bound=Callable[..., Any])


def require_token(
    verifier: Verifier,
    *,
    scope: str | None = None,
    role: str | None = None,
    permission: str | None = None,
    subject_kind: str | None = None,
    org_from: str | None = None,
    live: bool | None = None,
    realm: str | None = None,
) -> Callable[[View], View]:
    """Guard a view. `org_from` names the URL variable holding the organization (id or slug)
    that `role` or `permission` must be held in; without it an org-scoped token's own org
    counts. The verified token is `current_token()` inside the view."""
    requirement = Requirement(scope, role, permission, subject_kind)

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            org = str(kwargs[org_from]) if org_from else None
            try:
                g.authserver_token = authorize(
                    verifier,
                    request.headers.get("Authorization"),
                    requirement,
                    org=org,
                    live=live,
                    request=_dpop_request(),
                )
            except TokenRefused as refusal:
                return _refused(refusal, realm or verifier.audience)
            except CannotDecide:
                return _unavailable()
            return view(*args, **kwargs)

        return cast(View, guarded)

    return decorate


def current_token() -> AccessToken:
    """The token `require_token` verified for this request."""
    return cast(AccessToken, g.authserver_token)


def _dpop_request() -> DPoPRequest:
    """This request as a DPoP proof must name it: `url` is Flask's base_url (scheme, host,
    SCRIPT_NAME and path, no query; it follows werkzeug's ProxyFix when the app uses it),
    `path` is the part inside the app, for a configured DPoPPolicy.base_url."""
    return DPoPRequest(
        method=request.method,
        url=request.base_url,
        path=request.path,
        proofs=tuple(request.headers.getlist("DPoP")),
    )


def _refused(refusal: TokenRefused, realm: str) -> Response:
    body = {"error": refusal.error or "unauthenticated", "error_description": refusal.description}
    response = jsonify(body)
    response.status_code = refusal.status
    response.headers["WWW-Authenticate"] = challenge(refusal, realm)
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable() -> Response:
    response = jsonify(
        {"error": "temporarily_unavailable", "error_description": "Try again shortly."}
    )
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER
    return response
