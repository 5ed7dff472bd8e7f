"""Teams: an organization's admins group members into teams that hold service roles, which
their members inherit. Plain exceptions, as in orgs/service.py; the API maps them."""

from __future__ import annotations

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from authserver.extensions import db
from authserver.models import Role, Team
from authserver.numbers import ascii_uuid
from authserver.orgs.service import (
    SLUG,
    Caller,
    Conflict,
    Invalid,
    NotFound,
    check_may_grant,
    checked_name,
    find_member,
    lock_organization,
    resolve_roles,
)
from authserver.services.auth_manifest import AUTH_SERVICE

MAX_DESCRIPTION = 1000


def list_teams(by: Caller) -> list[Team]:
    by.require("member:read")
    return list(
        db.session.scalars(
            select(Team)
            .where(Team.organization_id == by.organization.id)
            .options(selectinload(Team.roles), selectinload(Team.members))
            .order_by(Team.slug)
        )
    )


def create_team(
    by: Caller, name: object, slug: object, description: object, role_names: object
) -> Team:
    by.require("team:manage")
    team = Team(
        organization_id=by.organization.id,
        name=checked_name(name),
        slug=_checked_slug(slug),
        description=_checked_description(description),
        roles=grantable_roles(by, role_names),
    )
    lock_organization(by.organization.id)
    _save_unique(team)
    return team


def update_team(by: Caller, team_id: str, changes: dict[str, object]) -> Team:
    """Rename, re-describe or give other roles; fields not sent stay as they are."""
    by.require("team:manage")
    lock_organization(by.organization.id)
    team = find_team(by, team_id)
    if "name" in changes:
        team.name = checked_name(changes["name"])
    if "description" in changes:
        team.description = _checked_description(changes["description"])
    if "roles" in changes:
        team.roles = grantable_roles(by, changes["roles"])
    _save_unique(team)
    return team


def delete_team(by: Caller, team_id: str) -> None:
    """The team and, by ON DELETE CASCADE in the same transaction, its role grants, its
    memberships and its place in pending invitations."""
    by.require("team:manage")
    lock_organization(by.organization.id)
    db.session.delete(find_team(by, team_id))
    db.session.flush()


def add_to_team(by: Caller, team_id: str, member_id: str) -> Team:
    by.require("team:manage")
    lock_organization(by.organization.id)
    team, member = find_team(by, team_id), find_member(by, member_id)
    if member in team.members:
        raise Conflict(lazy_gettext("That member is already in the team."))
    team.members.append(member)
    db.session.flush()
    return team


def remove_from_team(by: Caller, team_id: str, member_id: str) -> Team:
    """Leaving a team needs no permission; taking someone else out needs team:manage."""
    lock_organization(by.organization.id)
    team, member = find_team(by, team_id), find_member(by, member_id)
    if member.id != by.member.id:
        by.require("team:manage")
    if member not in team.members:
        raise NotFound(lazy_gettext("That member is not in the team."))
    team.members.remove(member)
    db.session.flush()
    return team


def grantable_roles(by: Caller, role_names: object) -> list[Role]:
    """The roles a team may hold: services' roles the caller may grant, never the auth
    server's own, so that org ownership and its last-owner rule stay with people."""
    roles = resolve_roles([] if role_names is None else role_names)
    for index, role in enumerate(roles):
        if role.service == AUTH_SERVICE:
            raise Invalid(
                lazy_gettext(
                    "A team cannot hold %(role)s: grant auth roles to members.",
                    role=role.qualified_name,
                ),
                field=f"roles/{index}",
            )
    check_may_grant(by, roles)
    return roles


def resolve_teams(by: Caller, team_ids: object) -> list[Team]:
    """[team id, ...] of the caller's organization, e.g. for an invitation; else 422."""
    if team_ids is None:
        return []
    if not isinstance(team_ids, list) or not all(isinstance(t, str) for t in team_ids):
        raise Invalid(lazy_gettext("teams must be a list of team ids."), field="teams")
    found = []
    for index, team_id in enumerate(dict.fromkeys(team_ids)):
        team = _get(by, team_id)
        if team is None:
            raise Invalid(
                lazy_gettext("No such team in this organization."), field=f"teams/{index}"
            )
        found.append(team)
    return found


def find_team(by: Caller, team_id: str) -> Team:
    team = _get(by, team_id)
    if team is None:
        raise NotFound(lazy_gettext("No such team."))
    return team


def _get(by: Caller, team_id: str) -> Team | None:
    try:
        key = ascii_uuid(team_id)
    except ValueError:
        return None
    # Read again under the organization's lock: a concurrent request may have changed it.
    team = db.session.scalar(
        select(Team)
        .where(Team.id == key)
        .options(selectinload(Team.roles), selectinload(Team.members))
        .execution_options(populate_existing=True)
    )
    return team if team is not None and team.organization_id == by.organization.id else None


def _save_unique(team: Team) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(team)
            db.session.flush()
    except IntegrityError:
        # Two teams of one name or slug at once: the unique constraints decide, the loser 409.
        raise Conflict(
            lazy_gettext("A team of that name or slug exists in this organization.")
        ) from None


def _checked_slug(slug: object) -> str:
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise Invalid(
            lazy_gettext("The slug is invalid."),
            field="slug",
            rule="3 to 100 of a-z 0-9 and -, not starting or ending with -",
        )
    return slug


def _checked_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise Invalid(
            lazy_gettext(
                "The description must be text of at most %(count)s characters.",
                count=MAX_DESCRIPTION,
            ),
            field="description",
        )
    return description
