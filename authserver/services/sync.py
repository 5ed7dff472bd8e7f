"""Apply a manifest: diff it against what the service declared before, and write the
difference in the caller's transaction. Idempotent; serialized per service by a row lock."""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import Organization, OrganizationMember, Permission, Role, Service, User
from authserver.models.orgs import member_roles
from authserver.models.teams import Team, team_roles
from authserver.services.auth_manifest import AUTH_MANIFEST, AUTH_SERVICE
from authserver.services.manifest import FieldError, Manifest, ManifestInvalid, parse

MAX_HOLDERS_LISTED = 50


@dataclass
class Changes:
    permissions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"permissions": sorted(self.permissions), "roles": sorted(self.roles)}


@dataclass
class SyncResult:
    service: str
    created: Changes = field(default_factory=Changes)
    changed: Changes = field(default_factory=Changes)
    removed: Changes = field(default_factory=Changes)
    unchanged: Changes = field(default_factory=Changes)
    pruned_assignments: int = 0

    @property
    def has_changes(self) -> bool:
        return any(c.permissions or c.roles for c in (self.created, self.changed, self.removed))

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "created": self.created.as_dict(),
            "changed": self.changed.as_dict(),
            "removed": self.removed.as_dict(),
            "unchanged": self.unchanged.as_dict(),
            "pruned_assignments": self.pruned_assignments,
        }


class RolesInUse(Exception):
    """Removing these roles would take them from members or teams; `holders` names them
    (the first MAX_HOLDERS_LISTED), `members` and `teams` count every assignment."""

    def __init__(self, holders: list[dict[str, str]], *, members: int, teams: int) -> None:
        self.count = members + teams
        super().__init__(f"{describe_assignments(members, teams)} would be removed")
        self.holders = holders
        self.members = members
        self.teams = teams


def describe_assignments(members: int, teams: int) -> str:
    """The assignments a sync would take away, in plain English for the API, the CLI, the
    console and the log: "1 member role assignment and 2 team role assignments"."""
    parts = [
        _counted(members, "member role assignment"),
        _counted(teams, "team role assignment"),
    ]
    return " and ".join(part for part in parts if part) or "no role assignments"


def _counted(count: int, noun: str) -> str:
    if not count:
        return ""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class ReservedService(Exception):
    """The manifest names `auth`, which only the server itself declares."""

    def __init__(self) -> None:
        super().__init__(
            f"the {AUTH_SERVICE} manifest belongs to the server; `authserver init` keeps it current"
        )


def manifest_digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def apply_document(
    document: Any, *, prune: bool, via: str, actor_user_id: uuid.UUID | None = None
) -> SyncResult:
    """Parse a manifest document that names its service and apply it, with a
    manifest.synced audit event when anything changed (the CLI and the console). Raises
    ManifestInvalid or RolesInUse; the caller commits, or rolls back on an error."""
    service = document.get("service") if isinstance(document, dict) else None
    if not isinstance(service, str):
        raise ManifestInvalid([FieldError("/service", "the manifest must name its service")])
    result = sync(parse(service, document), manifest_digest(document), prune_assignments=prune)
    record_synced(result, via=via, actor_user_id=actor_user_id)
    return result


def record_synced(result: SyncResult, *, via: str, actor_user_id: uuid.UUID | None = None) -> None:
    """A manifest.synced audit event, when the sync changed anything."""
    if result.has_changes:
        audit.record(
            "manifest.synced",
            actor_user_id=actor_user_id,
            target_type="service",
            target_id=result.service,
            via=via,
            **result.as_dict(),
        )


def lock_service(name: str) -> Service:
    """The service row, locked (PostgreSQL) so that concurrent syncs run one at a time."""
    found = Service.find(name, for_update=True)
    if found is not None:
        return found
    # If another instance registers it first, our insert fails and we lock its row.
    with suppress(IntegrityError), db.session.begin_nested():
        db.session.add(Service(name=name))
    return Service.find(name, for_update=True)


def sync(manifest: Manifest, digest: str, *, prune_assignments: bool = False) -> SyncResult:
    """Apply a service's manifest. The `auth` roles decide who may do what in an org: no
    manifest from outside (a shell, a service's push) may replace them (ReservedService)."""
    if manifest.service == AUTH_SERVICE:
        raise ReservedService()
    return _apply(manifest, digest, prune_assignments)


def sync_auth_manifest() -> SyncResult:
    """The server's own `auth` manifest, as this version of the server declares it."""
    return _apply(parse(AUTH_SERVICE, AUTH_MANIFEST), manifest_digest(AUTH_MANIFEST), False)


def _apply(manifest: Manifest, digest: str, prune_assignments: bool) -> SyncResult:
    service = lock_service(manifest.service)
    result = SyncResult(manifest.service)
    permissions = _sync_permissions(manifest, result)
    _sync_roles(manifest, permissions, result, prune_assignments)
    _remove_permissions(manifest, permissions, result)
    service.description = manifest.description
    service.manifest_sha256 = digest
    service.synced_at = utcnow()
    db.session.flush()
    return result


def _sync_permissions(manifest: Manifest, result: SyncResult) -> dict[str, Permission]:
    existing = {
        f"{p.resource}:{p.action}": p
        for p in db.session.scalars(
            select(Permission).where(Permission.service == manifest.service)
        )
    }
    for spec in manifest.permissions:
        found = existing.get(spec.key)
        if found is None:
            found = Permission(
                service=manifest.service,
                resource=spec.resource,
                action=spec.action,
                description=spec.description,
            )
            db.session.add(found)
            existing[spec.key] = found
            result.created.permissions.append(spec.key)
        elif found.description != spec.description:
            found.description = spec.description
            result.changed.permissions.append(spec.key)
        else:
            result.unchanged.permissions.append(spec.key)
    db.session.flush()
    return existing


def _sync_roles(
    manifest: Manifest, permissions: dict[str, Permission], result: SyncResult, prune: bool
) -> None:
    existing = {
        r.name: r
        for r in db.session.scalars(
            select(Role)
            .where(Role.service == manifest.service)
            .options(selectinload(Role.permissions))
        )
    }
    wanted = {spec.name for spec in manifest.roles}
    _remove_roles([r for name, r in existing.items() if name not in wanted], result, prune)
    for spec in manifest.roles:
        role = existing.get(spec.name)
        granted = [permissions[key] for key in sorted(spec.permissions)]
        if role is None:
            db.session.add(
                Role(
                    service=manifest.service,
                    name=spec.name,
                    description=spec.description,
                    permissions=granted,
                )
            )
            result.created.roles.append(spec.name)
            continue
        current = {f"{p.resource}:{p.action}" for p in role.permissions}
        if role.description != spec.description or current != set(spec.permissions):
            role.description = spec.description
            role.permissions = granted
            result.changed.roles.append(spec.name)
        else:
            result.unchanged.roles.append(spec.name)
    db.session.flush()


def _remove_roles(roles: list[Role], result: SyncResult, prune: bool) -> None:
    if not roles:
        return
    ids = [role.id for role in roles]
    holders, members, teams = _holders(ids)
    count = members + teams
    if count and not prune:
        raise RolesInUse(holders, members=members, teams=teams)
    if count:
        db.session.execute(delete(member_roles).where(member_roles.c.role_id.in_(ids)))
        db.session.execute(delete(team_roles).where(team_roles.c.role_id.in_(ids)))
        result.pruned_assignments = count
    for role in roles:
        result.removed.roles.append(role.name)
        db.session.delete(role)
    db.session.flush()


def _holders(role_ids: list[Any]) -> tuple[list[dict[str, str]], int, int]:
    """Who holds these roles: members directly, and teams (whose members inherit them);
    then how many member and team assignments there are."""
    members = db.session.execute(
        select(Role.service, Role.name, User.id, User.email, Organization.slug)
        .join(member_roles, member_roles.c.role_id == Role.id)
        .join(OrganizationMember, OrganizationMember.id == member_roles.c.member_id)
        .join(User, User.id == OrganizationMember.user_id)
        .join(Organization, Organization.id == OrganizationMember.organization_id)
        .where(Role.id.in_(role_ids))
        .order_by(Role.name, Organization.slug, User.email)
    ).all()
    teams = db.session.execute(
        select(Role.service, Role.name, Team.id, Team.slug, Organization.slug)
        .join(team_roles, team_roles.c.role_id == Role.id)
        .join(Team, Team.id == team_roles.c.team_id)
        .join(Organization, Organization.id == Team.organization_id)
        .where(Role.id.in_(role_ids))
        .order_by(Role.name, Organization.slug, Team.slug)
    ).all()
    holders = [
        {"role": f"{service}:{name}", "user_id": str(user_id), "email": email, "organization": slug}
        for service, name, user_id, email, slug in members
    ] + [
        {"role": f"{service}:{name}", "team_id": str(team_id), "team": team, "organization": slug}
        for service, name, team_id, team, slug in teams
    ]
    return holders[:MAX_HOLDERS_LISTED], len(members), len(teams)


def _remove_permissions(
    manifest: Manifest, permissions: dict[str, Permission], result: SyncResult
) -> None:
    wanted = {spec.key for spec in manifest.permissions}
    for key, permission in permissions.items():
        if key not in wanted:
            db.session.delete(permission)  # its role grants go with it (ON DELETE CASCADE)
            result.removed.permissions.append(key)
    db.session.flush()
