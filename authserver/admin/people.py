"""Console pages for people: search, a person's page, and what an operator does to an
account (the same functions as `authserver users`)."""

from __future__ import annotations

from collections import Counter

from flask import Response, abort, request

from authserver import audit
from authserver.account import queries as account_queries
from authserver.admin.console import (
    PAGE_SIZE,
    admin,
    done,
    operator,
    page,
    page_number,
    require_root,
    text_arg,
    uuid_or_404,
)
from authserver.extensions import db
from authserver.identity import accounts, sessions
from authserver.models import AuditEvent, GrantFamily, Session, User
from authserver.models.users import PLATFORM_ROLES
from authserver.oauth.families import RevocationReason

RECENT_EVENTS = 20


def _person(user_id: str) -> User:
    user = db.session.get(User, uuid_or_404(user_id))
    if user is None:
        abort(404, "There is no such person.")
    return user


def _changeable(user_id: str) -> User:
    """A person an operator may change: only root may act on a root's account (an admin
    disabling every root would take the console from them)."""
    user = _person(user_id)
    if user.platform_role is not None and user.platform_role.role == "root":
        require_root()
    return user


def _record(event_type: str, user: User, **details: object) -> None:
    audit.record(
        event_type,
        actor_user_id=operator().user.id,
        target_type="user",
        target_id=str(user.id),
        **details,
    )


@admin.get("/people")
def people() -> Response:
    query = text_arg("q")
    number = page_number()
    found = User.search(query, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    return page(
        "people.html",
        query=query,
        people=found[:PAGE_SIZE],
        number=number,
        has_next=len(found) > PAGE_SIZE,
    )


@admin.get("/people/new")
def new_person() -> Response:
    return page("person_new.html", values={}, error=None, platform_roles=PLATFORM_ROLES)


@admin.post("/people/new")
def create_person() -> Response:
    form = request.form
    role = form.get("platform_role") or None
    if role is not None:
        require_root()
        if role not in PLATFORM_ROLES:
            abort(400, "Choose root, admin or none.")
    try:
        user = accounts.create_local(
            text_arg("email", form),
            text_arg("name", form, limit=100),
            form.get("password", "")[: accounts.MAX_PASSWORD_INPUT],
            email_verified=form.get("email_verified") == "on",
            platform_role=role,
            method="admin",
            actor_user_id=operator().user.id,
        )
    except accounts.AccountInvalid as error:
        db.session.rollback()
        values = {"email": form.get("email", ""), "name": form.get("name", "")}
        message = f"{error.field}: {error}"
        return page("person_new.html", 400, values=values, error=message,
                    platform_roles=PLATFORM_ROLES)  # fmt: skip
    return done("admin.person", user_id=str(user.id))


@admin.get("/people/<user_id>")
def person(user_id: str) -> Response:
    user = _person(user_id)
    grants = Counter(family.client for family in GrantFamily.active_of(user.id))
    return page(
        "person.html",
        person=user,
        data=account_queries.overview(user),
        grants=sorted(grants.items(), key=lambda item: item[0].name),
        events=AuditEvent.page(involving_user=user.id, limit=RECENT_EVENTS),
        platform_roles=PLATFORM_ROLES,
    )


@admin.post("/people/<user_id>/disable")
def disable(user_id: str) -> Response:
    user = _changeable(user_id)
    if user.id == operator().user.id:
        abort(409, "You cannot disable your own account from the console.")
    accounts.disable(user, actor_user_id=operator().user.id)
    return done("admin.person", user_id=user_id)


@admin.post("/people/<user_id>/enable")
def enable(user_id: str) -> Response:
    accounts.enable(_changeable(user_id), actor_user_id=operator().user.id)
    return done("admin.person", user_id=user_id)


@admin.post("/people/<user_id>/sign-out")
def sign_out_everywhere(user_id: str) -> Response:
    user = _changeable(user_id)
    if user.id == operator().user.id:
        abort(409, "Sign yourself out from your account page.")
    ended = accounts.sign_out_everywhere(user)
    _record("user.signed_out", user, sessions=ended.sessions, grants=ended.grants)
    return done("admin.person", user_id=user_id)


@admin.post("/people/<user_id>/sessions/<session_id>/end")
def end_session(user_id: str, session_id: str) -> Response:
    user = _changeable(user_id)
    found = db.session.get(Session, uuid_or_404(session_id))
    if found is None or found.user_id != user.id:
        abort(404, "The session has ended already.")
    if found.id == operator().session.id:
        abort(409, "This is your own console session; sign out from your account page.")
    _record("user.session_ended", user, session_id=str(found.id))
    sessions.end(found, reason=RevocationReason.ADMIN)
    return done("admin.person", user_id=user_id)


@admin.post("/people/<user_id>/grants/<client_id>/revoke")
def revoke_grants(user_id: str, client_id: str) -> Response:
    user = _changeable(user_id)
    client = account_queries.disconnect_app(user, client_id, reason=RevocationReason.ADMIN)
    if client is None:
        abort(404, "The person holds no grant for this client.")
    _record("consent.revoked", user, client_id=client.client_id)
    return done("admin.person", user_id=user_id)


@admin.post("/people/<user_id>/platform-role")
def change_platform_role(user_id: str) -> Response:
    require_root()
    user = _person(user_id)
    wanted = request.form.get("role", "")
    if wanted not in (*PLATFORM_ROLES, "none"):
        abort(400, "Choose root, admin or none.")
    try:
        accounts.set_platform_role(
            user, None if wanted == "none" else wanted, actor_user_id=operator().user.id
        )
    except accounts.LastRoot:
        abort(409, "The server needs at least one root operator; make another one first.")
    return done("admin.person", user_id=user_id)
