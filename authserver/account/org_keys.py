"""The account page's organization API keys: an org's admins list, make (shown once) and
revoke its keys, by the rules and with the audit events of /api/v1/orgs/<id>/api-keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField
from wtforms.validators import NumberRange, Optional

from authserver import audit
from authserver.account import queries
from authserver.credentials import api_keys
from authserver.errors import render_error_page
from authserver.extensions import db
from authserver.identity import sessions
from authserver.identity.forms import page
from authserver.models import ApiKey, Session
from authserver.orgs import service as orgs
from authserver.orgs import teams
from authserver.orgs.service import Caller, Conflict, Forbidden, NotFound, OrgError

org_keys = Blueprint("org_keys", __name__, url_prefix="/account/orgs/<org_id>/api-keys")

MAX_DAYS = api_keys.MAX_TTL // 86400
NOTICES = {"revoked": lazy_gettext("The key is revoked: no new token is issued for it.")}


class OrgKeyForm(FlaskForm):
    """Parsed and CSRF-checked by Flask-WTF; what the values may be is api_keys' to say."""

    name = StringField(lazy_gettext("Name"))
    expires_in_days = IntegerField(
        lazy_gettext("Expires after (days)"),
        validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)],
    )
    # Not limited to the choices offered: a role sent anyway meets grantable_roles, which
    # refuses it as the API does.
    roles = SelectMultipleField(lazy_gettext("Service roles"), validate_choice=False)
    teams = SelectMultipleField(lazy_gettext("Teams"), validate_choice=False)


def _refusal(error: OrgError) -> str:
    """The refusal in the page's language: the form's own words where the rule speaks of
    the API's fields or permissions, else the rule's own message (OrgError.localized)."""
    field = str(error.extensions.get("field", ""))
    if isinstance(error, api_keys.SecondFactorRequired):
        return gettext("This organization requires a second factor: sign in again with one.")
    if field.startswith("roles"):
        return gettext("A key can hold only the roles offered here.")
    if field.startswith("teams"):
        return gettext("A key can join only the teams offered here.")
    if field == "name":
        return gettext("Give the key a name of 1 to 100 characters, without control characters.")
    if field == "expires_in":
        return gettext("The expiry must be 1 to %(days)s days, or empty.", days=MAX_DAYS)
    if isinstance(error, Forbidden):
        return gettext("Your roles in this organization do not allow this.")
    return error.localized()


def key_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """The view runs for a signed-in key admin of the org whose sign-in meets its
    second-factor rule (as the API's caller()); anyone else gets the sign-in page, or a
    404 (not a member: as for a missing org) or a 403 page, never the form."""

    @wraps(view)
    def wrapper(org_id: str, **kwargs: str) -> Any:
        session = sessions.current()
        if session is None:
            return redirect(url_for("identity.sign_in", return_to="account"), code=303)
        try:
            by = orgs.caller(session.user, org_id)
            by.require("key:manage")
            api_keys.check_second_factor(by, session.auth_methods)
        except NotFound:
            return render_error_page(
                gettext("Organization not found"),
                gettext("It may have been deleted, or you are not a member."),
                status=404,
            )
        except Forbidden as refused:
            return render_error_page(gettext("Not allowed"), _refusal(refused), status=403)
        return view(session, by, **kwargs)

    return wrapper


def _listing(
    by: Caller, form: OrgKeyForm, *, error: str | None = None, status: int = 200
) -> Response:
    keys = api_keys.org_keys(by)
    form.roles.choices = [
        (role.qualified_name, role.description or role.qualified_name)
        for role in api_keys.offered_roles(by)
    ]
    form.teams.choices = [(str(team.id), team.name) for team in teams.list_teams(by)]
    return page(
        "account/org_api_keys.html",
        status=status,
        organization=by.organization,
        keys=keys,
        creators=queries.people_by_id(key.created_by_id for key in keys),
        form=form,
        error=error,
        notice=NOTICES.get(request.args.get("done", "")),
        max_days=MAX_DAYS,
    )


@org_keys.get("")
@key_admin
def list_org_keys(_session: Session, by: Caller) -> Response:
    response = _listing(by, OrgKeyForm())
    db.session.commit()  # the session's last use may have moved
    return response


@org_keys.post("")
@key_admin
def create_org_key(session: Session, by: Caller) -> Response:
    """The new key on the next page, once; a refused one re-shows the form with why."""
    form = OrgKeyForm()
    if not form.validate():  # only the expiry has a validator of the form's own
        error = gettext("The expiry must be 1 to %(days)s days, or empty.", days=MAX_DAYS)
        return _listing(by, form, error=error, status=422)
    days = form.expires_in_days.data
    try:
        key, raw = api_keys.create_for_org(
            by,
            form.name.data,
            form.roles.data or [],
            form.teams.data or [],
            days * 86400 if days is not None else None,
            auth_methods=session.auth_methods,
        )
    except OrgError as error:
        db.session.rollback()
        return _listing(by, form, error=_refusal(error), status=error.status)
    _audit("api_key.created", by, key, roles=[r.qualified_name for r in key.roles])
    response = page("account/api_key_created.html", key=key, raw=raw, organization=by.organization)
    db.session.commit()
    return response


@org_keys.post("/<key_id>/revoke")
@key_admin
def revoke_org_key(_session: Session, by: Caller, key_id: str) -> Response | tuple[str, int]:
    try:
        key = api_keys.revoke_for_org(by, key_id)
    except Conflict:
        db.session.rollback()
        return render_error_page(
            gettext("The key is already revoked"),
            gettext("No new token is issued for it."),
            status=409,
        )
    except OrgError as error:
        db.session.rollback()
        return render_error_page(
            gettext("Key not found"),
            gettext("It may belong to another organization."),
            status=error.status,
        )
    _audit("api_key.revoked", by, key)
    db.session.commit()
    org_id = str(by.organization.id)
    return redirect(url_for("org_keys.list_org_keys", org_id=org_id, done="revoked"), code=303)


def _audit(event: str, by: Caller, key: ApiKey, **details: object) -> None:
    """The events the API records for the same change (api/api_keys.py)."""
    audit.record(
        event,
        actor_user_id=by.user.id,
        organization_id=by.organization.id,
        target_type="api_key",
        target_id=str(key.id),
        **details,
    )
