"""/api/v1/orgs/<org_id>/teams: an organization's teams, their roles and members, called
with a person's token for this API (scope orgs to read, orgs:write to change)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from authserver.api import models
from authserver.api.auth import ORGS_READ as READ
from authserver.api.auth import ORGS_WRITE as WRITE
from authserver.api.operations import route
from authserver.api.orgs import caller, changed, person, problems
from authserver.extensions import csrf
from authserver.models import Team
from authserver.orgs import teams

teams_api = Blueprint("teams_api", __name__, url_prefix="/api/v1/orgs/<org_id>/teams")
csrf.exempt(teams_api)  # Bearer tokens, not cookies: there is no cross-site request to forge


def team_view(team: Team) -> dict[str, object]:
    return models.Team(
        id=team.id,
        organization_id=team.organization_id,
        name=team.name,
        slug=team.slug,
        description=team.description,
        roles=sorted(role.qualified_name for role in team.roles),
        member_ids=sorted(member.id for member in team.members),
        created_at=team.created_at,
    ).model_dump(mode="json")


@route(teams_api, "GET", "", "Teams", scope=READ, returns=models.Team, many=True)
@problems
def list_teams(org_id: str) -> Response:
    by = caller(person(), org_id)
    return jsonify([team_view(team) for team in teams.list_teams(by)])


@route(
    teams_api,
    "POST",
    "",
    "Create a team",
    scope=WRITE,
    body=models.TeamCreate,
    returns=models.Team,
    status=201,
    errors={409: "Name or slug taken"},
)
@problems
def create_team(org_id: str) -> tuple[Response, int]:
    user = person()
    data = models.parse(models.TeamCreate)
    by = caller(user, org_id)
    team = teams.create_team(by, data.name, data.slug, data.description, data.roles)
    changed(
        "team.created",
        user,
        by.organization.id,
        team_id=str(team.id),
        slug=team.slug,
        roles=[r.qualified_name for r in team.roles],
    )
    return jsonify(team_view(team)), 201


@route(teams_api, "GET", "/<team_id>", "Read a team", scope=READ, returns=models.Team)
@problems
def get_team(org_id: str, team_id: str) -> Response:
    by = caller(person(), org_id)
    by.require("member:read")
    return jsonify(team_view(teams.find_team(by, team_id)))


@route(
    teams_api,
    "PATCH",
    "/<team_id>",
    "Rename, describe or change a team's roles",
    scope=WRITE,
    body=models.TeamUpdate,
    returns=models.Team,
    errors={409: "Name taken"},
)
@problems
def update_team(org_id: str, team_id: str) -> Response:
    user = person()
    data = models.parse(models.TeamUpdate)
    by = caller(user, org_id)
    team = teams.update_team(by, team_id, models.sent(data))
    changed(
        "team.changed",
        user,
        by.organization.id,
        team_id=team_id,
        fields=sorted(data.model_fields_set),
        roles=[r.qualified_name for r in team.roles],
    )
    return jsonify(team_view(team))


@route(
    teams_api,
    "DELETE",
    "/<team_id>",
    "Delete a team and its role grants",
    scope=WRITE,
    status=204,
)
@problems
def delete_team(org_id: str, team_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    teams.delete_team(by, team_id)
    changed("team.deleted", user, by.organization.id, team_id=team_id)
    return "", 204


@route(
    teams_api,
    "PUT",
    "/<team_id>/members/<member_id>",
    "Add a member to the team",
    scope=WRITE,
    returns=models.Team,
    errors={409: "Already in the team"},
)
@problems
def add_team_member(org_id: str, team_id: str, member_id: str) -> Response:
    user = person()
    by = caller(user, org_id)
    team = teams.add_to_team(by, team_id, member_id)
    changed("team.member_added", user, by.organization.id, team_id=team_id, member_id=member_id)
    return jsonify(team_view(team))


@route(
    teams_api,
    "DELETE",
    "/<team_id>/members/<member_id>",
    "Take a member out of the team, or leave it",
    scope=WRITE,
    status=204,
)
@problems
def remove_team_member(org_id: str, team_id: str, member_id: str) -> tuple[str, int]:
    user = person()
    by = caller(user, org_id)
    teams.remove_from_team(by, team_id, member_id)
    changed("team.member_removed", user, by.organization.id, team_id=team_id, member_id=member_id)
    return "", 204
