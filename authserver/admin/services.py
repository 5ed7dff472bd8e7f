"""Console pages for services: each one's manifest, who holds its roles, its clients, and
what its last sync changed (the manifest.synced audit event carries the diff)."""

from __future__ import annotations

from flask import Response, abort
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from authserver.admin.console import admin, page
from authserver.extensions import db
from authserver.models import AuditEvent, OAuthClient, Permission, Role, Service
from authserver.models.orgs import member_roles


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
    holders = dict(
        db.session.execute(
            select(member_roles.c.role_id, func.count())
            .where(member_roles.c.role_id.in_([role.id for role in roles]))
            .group_by(member_roles.c.role_id)
        ).all()
    )
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
        holders=holders,
        clients=list(
            db.session.scalars(
                select(OAuthClient)
                .where(OAuthClient.service_name == name)
                .order_by(OAuthClient.name)
            )
        ),
        last_sync=last_sync[0] if last_sync else None,
    )
