"""Console pages for services: each one's manifest, who holds its roles, its clients, and
what its last sync changed (the manifest.synced audit event carries the diff)."""

from __future__ import annotations

import json
import uuid

from flask import Response, abort, request
from flask_babel import ngettext
from sqlalchemy import Table, func, select
from sqlalchemy.orm import selectinload

from authserver.admin.console import admin, done, operator, page
from authserver.extensions import db
from authserver.models import AuditEvent, OAuthClient, Permission, Role, Service
from authserver.models.orgs import member_roles
from authserver.models.teams import team_roles
from authserver.services.auth_manifest import AUTH_SERVICE
from authserver.services.manifest import ManifestInvalid
from authserver.services.sync import RolesInUse, apply_document

MAX_MANIFEST = 256 * 1024


@admin.get("/services")
def services() -> Response:
    roles = dict(
        db.session.execute(select(Role.service, func.count()).group_by(Role.service)).all()
    )
    return page(
        "services.html",
        services=list(db.session.scalars(select(Service).order_by(Service.name))),
        role_counts=roles,
    )


@admin.get("/services/<name>")
def service(name: str) -> Response:
    found = Service.find(name)
    if found is None:
        abort(404, "There is no such service.")
    roles = list(
        db.session.scalars(
            select(Role)
            .where(Role.service == name)
            .options(selectinload(Role.permissions))
            .order_by(Role.name)
        )
    )
    role_ids = [role.id for role in roles]
    last_sync = AuditEvent.page(
        type_prefix="manifest.synced", target_type="service", target_id=name, limit=1
    )
    return page(
        "service.html",
        service=found,
        permissions=list(
            db.session.scalars(
                select(Permission)
                .where(Permission.service == name)
                .order_by(Permission.resource, Permission.action)
            )
        ),
        roles=roles,
        members=_holder_counts(member_roles, role_ids),
        teams=_holder_counts(team_roles, role_ids),
        held_by=held_by,
        pruned=pruned,
        clients=list(
            db.session.scalars(
                select(OAuthClient)
                .where(OAuthClient.service_name == name)
                .order_by(OAuthClient.name)
            )
        ),
        last_sync=last_sync[0] if last_sync else None,
    )


def _holder_counts(assignments: Table, role_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Role id -> how many hold it through `assignments` (member_roles or team_roles)."""
    return dict(
        db.session.execute(
            select(assignments.c.role_id, func.count())
            .where(assignments.c.role_id.in_(role_ids))
            .group_by(assignments.c.role_id)
        ).all()
    )


def held_by(members: int, teams: int) -> str:
    """Who holds a role: "2 members and 1 team" (a team's members inherit its roles)."""
    parts = [
        ngettext("%(num)d member", "%(num)d members", members) if members else "",
        ngettext("%(num)d team", "%(num)d teams", teams) if teams else "",
    ]
    return " and ".join(part for part in parts if part) or "nobody"


def pruned(count: int) -> str:
    return ngettext("%(num)d role assignment pruned", "%(num)d role assignments pruned", count)


@admin.post("/services/sync")
def sync_manifest() -> Response:
    """What `authserver services sync FILE` does, with the manifest pasted in a form."""
    raw = request.form.get("manifest", "")
    if len(raw) > MAX_MANIFEST:
        abort(413, f"The manifest is longer than {MAX_MANIFEST // 1024} kB.")
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        abort(400, f"The manifest is not JSON ({error.msg}, line {error.lineno}).")
    except RecursionError:
        abort(400, "The manifest is nested too deeply.")
    if isinstance(document, dict) and document.get("service") == AUTH_SERVICE:
        abort(403, "The server owns the auth manifest; `authserver init` keeps it current.")
    try:
        result = apply_document(
            document,
            prune=request.form.get("prune") == "on",
            via="admin",
            actor_user_id=operator().user.id,
        )
    except ManifestInvalid as invalid:
        abort(400, f"The manifest is invalid: {invalid}")
    except RolesInUse as held:
        abort(
            409,
            f"{held}; tick 'also take removed roles away' to remove them.",
        )
    return done("admin.service", name=result.service)
