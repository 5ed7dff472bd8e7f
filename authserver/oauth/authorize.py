"""The /authorize steps after Authlib's validation: sign-in hand-off, prompt, max_age, consent.

Each step returns a response when the flow stops there, or None to go on (STYLE: an ordered
list of small checks).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Response, redirect, render_template, request, url_for

from authserver import audit
from authserver.clock import utcnow
from authserver.consent.decide import decide
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.mfa.policy import second_factor_step
from authserver.models import Consent, Organization, PendingAuthorization, Session
from authserver.oauth import claims, freshness, pending
from authserver.oauth.checks import has_unechoable_values
from authserver.oauth.scopes import SCOPES
from authserver.oauth.server import AuthorizationServer, current_server

SIGN_IN_PATH = "/sign-in"


class Flow:
    """One pass through /authorize: the validated grant, the person, the parked request."""

    def __init__(
        self,
        server: AuthorizationServer,
        grant: AuthorizationCodeGrant,
        parked: PendingAuthorization | None,
    ) -> None:
        self.server = server
        self.grant = grant
        self.parked = parked
        self.session: Session | None = sessions.current()
        self.organization: Organization | None = None

    @property
    def params(self) -> dict[str, str]:
        return dict(self.grant.request.payload.data)

    @property
    def prompts(self) -> set[str]:
        return set((self.params.get("prompt") or "").split())

    @property
    def scopes(self) -> set[str]:
        return set((self.grant.request.payload.scope or "").split())

    def park(self) -> PendingAuthorization:
        if self.parked is None:
            self.parked = pending.park(self.grant.request.payload.data, self.grant.client.client_id)
        return self.parked

    def fail(self, error: OAuth2Error) -> Response:
        error.redirect_uri = self.grant.redirect_uri
        error.state = self.params.get("state")
        return self.server.authorization_error_response(error)


def _validated(parked: PendingAuthorization | None) -> Flow | Response:
    """Authlib's validation plus our checks, on this request or (again) on a parked one."""
    server = current_server()
    oauth_request = (
        pending.ParkedRequest.of(parked, request.url, request.headers) if parked else None
    )
    if parked is None and has_unechoable_values(request.values):
        return _refuse(server, InvalidRequestError("The request has malformed parameters."))
    try:
        grant = server.get_consent_grant(request=oauth_request, end_user=sessions.current_person())
    except OAuth2Error as error:
        return _refuse(server, error)
    return Flow(server, grant, parked)


def _stopped(flow: Flow, steps: tuple[Callable[[Flow], Response | None], ...]) -> Response | None:
    for step in steps:
        response = step(flow)
        if response is not None:
            db.session.commit()
            return response
    return None


def run(parked: PendingAuthorization | None) -> Response:
    """Validate (again, when resuming) and take the flow as far as it can go."""
    flow = _validated(parked)
    if isinstance(flow, Response):
        return flow
    return _stopped(flow, STEPS) or issue_code(flow)


def _refuse(server: AuthorizationServer, error: OAuth2Error) -> Response:
    if error.redirect_uri is None:  # RFC 6749 §4.1.2.1: unknown client or redirect URI
        page, status = render_error_page(
            "This sign-in link is not valid",
            "The app that sent you here is not registered for this address. "
            "Go back to the app and try again.",
            status=400,
        )
        return Response(page, status=status, mimetype="text/html")
    return server.authorization_error_response(error)


def needs_sign_in(flow: Flow) -> bool:
    session = flow.session
    if session is None:
        return True
    if flow.parked is None:
        if "login" in flow.prompts:
            return True  # the first pass: nothing signed in for this request yet
        return not freshness.asked_by(flow.params, utcnow()).is_satisfied_by(session.auth_time)
    if flow.parked.signed_in_session_id == session.id:
        return False  # OIDC Core §3.1.2.1: a sign-in made for this request satisfies it
    # Counted from when the request was made: reading the consent page does not age it.
    asked = freshness.asked_by(flow.params, flow.parked.created_at)
    return not asked.is_satisfied_by(session.auth_time)


def sign_in_step(flow: Flow) -> Response | None:
    if not needs_sign_in(flow):
        return None
    if "none" in flow.prompts:
        return flow.fail(LoginRequiredError())
    parked = flow.park()
    query = {"pending": str(parked.id)}
    if flow.params.get("login_hint"):
        query["login_hint"] = flow.params["login_hint"][:255]
    return redirect(f"{SIGN_IN_PATH}?{urlencode(query)}", code=302)


def organization_step(flow: Flow) -> Response | None:
    """`organization=`: the person must be a member; the code and its tokens are scoped."""
    reference = flow.params.get("organization")
    if reference is None:
        return None
    organization = claims.find_organization(reference)
    if organization is None or not claims.is_member(flow.session.user_id, organization.id):
        return flow.fail(AccessDeniedError("You are not a member of that organization."))
    flow.organization = organization
    flow.grant.request.organization_id = organization.id
    return None


def consent_step(flow: Flow) -> Response | None:
    person = flow.session.user
    decision = decide(
        is_first_party=flow.grant.client.is_first_party,
        requested=flow.scopes,
        approved=Consent.approved_scopes(person.id, flow.grant.client.id),
        forced="consent" in flow.prompts,
    )
    if not decision.must_ask:
        return None
    if "none" in flow.prompts:
        return flow.fail(ConsentRequiredError())
    parked = flow.park()
    page = render_template(
        "consent/prompt.html",
        client=flow.grant.client,
        person=person,
        scopes=[(scope, SCOPES[scope]) for scope in sorted(flow.scopes) if scope in SCOPES],
        organization=flow.organization,
        action=url_for("oauth.decide_consent", pending_id=str(parked.id)),
    )
    return Response(page, mimetype="text/html", headers={"Cache-Control": "no-store"})


STEPS: tuple[Callable[[Flow], Response | None], ...] = (
    sign_in_step,
    organization_step,
    second_factor_step,
    consent_step,
)


def issue_code(flow: Flow) -> Response:
    person = flow.session.user
    response = flow.server.create_authorization_response(
        request=flow.grant.request, grant=flow.grant, grant_user=person
    )
    if flow.parked is not None:
        db.session.delete(flow.parked)
    db.session.commit()
    response.headers["Cache-Control"] = "no-store"
    return response


def decide_consent(parked: PendingAuthorization, approved: bool) -> Response:
    """The consent form's answer. Every step before consent runs again (sign-in, the
    organization's membership) before a code is issued."""
    flow = _validated(parked)
    if isinstance(flow, Response):
        return flow
    stopped = _stopped(flow, STEPS[: STEPS.index(consent_step)])
    if stopped is not None:
        return stopped
    client_id = flow.grant.client.client_id
    if not approved:
        audit.record(
            "consent.denied",
            actor_user_id=flow.session.user_id,
            target_type="client",
            target_id=client_id,
        )
        response = flow.server.create_authorization_response(
            request=flow.grant.request, grant=flow.grant, grant_user=None
        )
        db.session.delete(parked)
        db.session.commit()
        return response
    Consent.remember(flow.session.user_id, flow.grant.client.id, flow.scopes)
    audit.record(
        "consent.granted",
        actor_user_id=flow.session.user_id,
        target_type="client",
        target_id=client_id,
        scopes=sorted(flow.scopes),
    )
    return issue_code(flow)
