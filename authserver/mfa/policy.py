"""Who must give a second factor, and when a factor may go: organization policy, step-up
through acr_values, and the removal rules."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from authlib.oidc.core.errors import InteractionRequiredError
from flask import Response, redirect, url_for
from flask_babel import lazy_gettext

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.mfa import amr
from authserver.models import (
    OrganizationFactorPolicy,
    Session,
    TotpSecret,
    User,
    WebAuthnCredential,
)

if TYPE_CHECKING:
    from authserver.oauth.authorize import Flow

# How recent a multi-factor sign-in must be to remove a factor (as GitHub's "sudo mode").
RECENT_SIGN_IN = timedelta(minutes=15)
RECENT_REFUSAL = lazy_gettext("This needs a recent sign-in with a second factor: sign in again.")


def requires_second_factor(organization_id: uuid.UUID) -> bool:
    return OrganizationFactorPolicy.requires(organization_id)


def allows_org_token(organization_id: uuid.UUID, methods: list[str] | tuple[str, ...]) -> bool:
    """An org-scoped token, at the code exchange and at every refresh: a policy switched on
    later also stops the refresh of a family whose sign-in had no second factor."""
    return amr.is_multi_factor(methods) or not requires_second_factor(organization_id)


def set_policy(organization_id: uuid.UUID, require: bool, by: User) -> OrganizationFactorPolicy:
    """Create or change the organization's rule; the caller audits and commits."""
    policy = db.session.get(OrganizationFactorPolicy, organization_id, with_for_update=True)
    if policy is None:
        policy = OrganizationFactorPolicy(organization_id=organization_id)
        db.session.add(policy)
    policy.require_second_factor = require
    policy.updated_by = by.id
    policy.updated_at = utcnow()
    db.session.flush()
    return policy


def second_factor_step(flow: Flow) -> Response | None:
    """An /authorize step (oauth/authorize.py STEPS): a client's acr_values asking for the
    multi-factor acr, or an `organization=` whose policy requires it, sends a session
    without a second factor through the second step only: no new first factor."""
    asked = amr.asks_for_multi_factor(flow.params.get("acr_values"))
    required = flow.organization is not None and requires_second_factor(flow.organization.id)
    if not (asked or required) or amr.is_multi_factor(flow.session.auth_methods):
        return None
    if "none" in flow.prompts:  # OIDC Core §3.1.2.6: the person would have to act
        return flow.fail(InteractionRequiredError())
    parked = flow.park()
    return redirect(url_for("mfa.step_up", pending=str(parked.id)), code=302)


def factor_count(user_id: uuid.UUID) -> int:
    totp = 1 if TotpSecret.confirmed_of(user_id) is not None else 0
    return totp + len(WebAuthnCredential.all_of(user_id))


def is_recent_multi_factor(session: Session) -> bool:
    return amr.is_multi_factor(session.auth_methods) and (
        utcnow() - session.auth_time <= RECENT_SIGN_IN
    )


def removal_refusal(session: Session) -> str | None:
    """Why this session may not remove a factor now, or None when it may."""
    if not is_recent_multi_factor(session):
        return RECENT_REFUSAL
    if factor_count(session.user_id) <= 1 and OrganizationFactorPolicy.any_requires_for_member(
        session.user_id
    ):
        return "An organization you belong to requires a second factor: add another first."
    return None


def may_add_factor(session: Session) -> bool:
    """The first factor may be added from any session (there is nothing to prove yet);
    adding another needs a session that used one, or a stolen password could add its own."""
    return factor_count(session.user_id) == 0 or amr.is_multi_factor(session.auth_methods)
