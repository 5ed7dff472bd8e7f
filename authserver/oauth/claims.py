"""Organization claims: `orgs` for the `orgs` scope, and the org-scoped claims of a token
asked for with `organization=`. Each is read in one statement (oauth/store.py).

Size is bounded: a token lists at most MAX_ORGS organizations (the oldest memberships
first) and says `orgs_truncated: true` when there are more; a client that needs one of
the others asks for an org-scoped token with `organization=`. Each membership lists at most
MAX_TEAMS team slugs (`teams_truncated: true` on it when cut); its roles are always whole
(a team's roles are the member's too), bounded by what the services' manifests declare.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from authserver.extensions import db
from authserver.models import Organization
from authserver.numbers import ascii_uuid
from authserver.oauth import store

MAX_ORGS = 50
MAX_TEAMS = 20
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class OrgClaim(TypedDict, total=False):
    id: str
    slug: str
    roles: list[str]
    teams: list[str]  # only when the person is in a team of the org
    teams_truncated: bool
    # The organization requires a second factor that this sign-in did not use: its roles
    # (and teams) are withheld, as an org-scoped token for it would be refused.
    second_factor_required: NotRequired[bool]


def memberships(
    user_id: uuid.UUID, service: str | None = None, *, multi_factor: bool
) -> tuple[list[OrgClaim], bool]:
    """Every membership with its roles, its own and its teams' (only `service`'s when
    given), and its team slugs, oldest first, at most MAX_ORGS; True if cut. Without a
    second factor (`multi_factor` False), an organization whose policy requires one lists
    no roles and no teams."""
    orgs: dict[uuid.UUID, tuple[set[str], set[str]]] = {}
    slugs: dict[uuid.UUID, str] = {}
    withheld: set[uuid.UUID] = set()
    for row in store.membership_rows(user_id):
        roles, teams = orgs.setdefault(row.org_id, (set(), set()))
        slugs[row.org_id] = row.slug
        if row.requires_factor and not multi_factor:
            withheld.add(row.org_id)
            continue
        if row.team is not None:
            teams.add(row.team)
        if row.name is not None and (service is None or row.service == service):
            roles.add(f"{row.service}:{row.name}")
    listed = [
        _org_claim(org_id, slugs[org_id], *found, withheld=org_id in withheld)
        for org_id, found in orgs.items()
    ]
    return listed[:MAX_ORGS], len(listed) > MAX_ORGS


def _org_claim(
    org_id: uuid.UUID, slug: str, roles: set[str], teams: set[str], *, withheld: bool
) -> OrgClaim:
    claim: OrgClaim = {"id": str(org_id), "slug": slug, "roles": sorted(roles)}
    if withheld:
        claim["second_factor_required"] = True
    claim.update(team_claims(teams))  # type: ignore[typeddict-item]
    return claim


def team_claims(teams: set[str]) -> dict[str, Any]:
    """`teams` (at most MAX_TEAMS slugs, alphabetically, `teams_truncated` when cut); none
    when there are no teams."""
    if not teams:
        return {}
    listed: dict[str, Any] = {"teams": sorted(teams)[:MAX_TEAMS]}
    if len(teams) > MAX_TEAMS:
        listed["teams_truncated"] = True
    return listed


def role_claims(rows: Sequence[Any], service: str | None) -> dict[str, Any]:
    """roles, permissions and teams from rows of (team, service, name, resource, action):
    only `service`'s roles and permissions when given (RFC 8707 resource)."""
    held = [r for r in rows if r.name is not None and (service is None or r.service == service)]
    return {
        "roles": sorted({f"{r.service}:{r.name}" for r in held}),
        "permissions": sorted({f"{r.service}:{r.resource}:{r.action}" for r in held if r.resource}),
        **team_claims({r.team for r in rows if r.team is not None}),
    }


def orgs_claims(
    user_id: uuid.UUID, service: str | None = None, *, multi_factor: bool
) -> dict[str, Any]:
    """The `orgs` claim (and `orgs_truncated` when cut), for tokens and /userinfo alike."""
    orgs, truncated = memberships(user_id, service, multi_factor=multi_factor)
    return {"orgs": orgs, "orgs_truncated": True} if truncated else {"orgs": orgs}


def find_organization(reference: str) -> Organization | None:
    """An organization by id or slug, as the `organization` parameter names it."""
    try:
        return db.session.get(Organization, ascii_uuid(reference))
    except ValueError:
        pass
    if not SLUG_PATTERN.match(reference):
        return None
    return Organization.find_by_slug(reference)


def is_member(user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    return store.is_member(user_id, organization_id)


class SecondFactorRequired(Exception):
    """The organization requires a second factor that the grant's sign-in did not use."""


def organization_scoped(
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    service: str | None = None,
    *,
    multi_factor: bool,
) -> dict[str, Any] | None:
    """org_id, org_slug, roles and permissions (the member's own and their teams'), and
    `teams` when in any, for one membership; None if not a member. With `service`, roles
    and permissions are only that service's (RFC 8707 resource). The org's second-factor
    rule comes in the same statement: SecondFactorRequired when it is not met."""
    rows = store.role_rows(user_id, organization_id)
    if not rows:
        return None
    if rows[0].requires_factor and not multi_factor:
        raise SecondFactorRequired()
    return {
        "org_id": str(organization_id),
        "org_slug": rows[0].slug,
        **role_claims(rows, service),
    }
