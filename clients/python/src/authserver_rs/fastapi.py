"""FastAPI / Starlette integration: `Depends(RequireToken(verifier, permission=...))`; Bearer
tokens, and DPoP-bound tokens with their proof; 401/403 with an RFC 6750 / RFC 9449
challenge, 503 when the request cannot be decided now."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from authserver_rs.claims import AccessToken
from authserver_rs.dpop import DPoPRequest
from authserver_rs.errors import CannotDecide, TokenRefused
from authserver_rs.guard import RETRY_AFTER, Requirement, authorize, challenge
from authserver_rs.verifier import Verifier


class RequireToken:
    """A dependency giving the verified AccessToken. `org_from` names the path parameter
    holding the organization (id or slug) that `role` or `permission` must be held in.

    Synchronous on purpose: FastAPI runs it in its thread pool, so fetching the JWKS or
    asking /introspect never blocks the event loop. In plain Starlette, call it with the
    request inside the endpoint."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        scope: str | None = None,
        role: str | None = None,
        permission: str | None = None,
        subject_kind: str | None = None,
        org_from: str | None = None,
        live: bool | None = None,
        realm: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.requirement = Requirement(scope, role, permission, subject_kind)
        self.org_from = org_from
        self.live = live
        self.realm = realm or verifier.audience

    def __call__(self, request: Request) -> AccessToken:
        org = request.path_params.get(self.org_from) if self.org_from else None
        try:
            return authorize(
                self.verifier,
                request.headers.get("Authorization"),
                self.requirement,
                org=None if org is None else str(org),
                live=self.live,
                request=dpop_request(request),
            )
        except TokenRefused as refusal:
            raise HTTPException(
                refusal.status,
                detail=refusal.description,  # the error code is in the challenge
                headers={"WWW-Authenticate": challenge(refusal, self.realm)},
            ) from None
        except CannotDecide:
            raise HTTPException(
                503,
                detail="This request cannot be decided now; try again shortly.",
                headers={"Retry-After": RETRY_AFTER},
            ) from None


def dpop_request(request: Request) -> DPoPRequest:
    """This request as a DPoP proof must name it. Starlette's path includes the ASGI
    root_path; `path` is the part inside the app, for a configured `base_url`."""
    url = request.url.replace(query="", fragment="")
    root = request.scope.get("root_path", "")
    inside = url.path.removeprefix(root) if root and url.path.startswith(root) else url.path
    return DPoPRequest(
        method=request.method,
        url=str(url),
        path=inside or "/",
        proofs=tuple(request.headers.getlist("DPoP")),
    )
