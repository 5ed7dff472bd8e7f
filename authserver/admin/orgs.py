"""Console pages for organizations: search, members and their roles, invitations, and the
organization's audit log."""

from __future__ import annotations

from flask import Response, abort
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from authserver.admin.console import (
    PAGE_SIZE,
    admin,
    page,
    page_number,
    text_arg,
    uuid_or_404,
)
from authserver.extensions import db
from authserver.models import AuditEvent, Invitation, Organization, OrganizationMember
from authserver.models.users import like_prefix

RECENT_EVENTS = 50


@admin.get("/orgs")
def organizations() -> Response:
    query = text_arg("q")
    number = page_number()
    stmt = select(Organization).order_by(Organization.slug)
    if query:
        pattern = like_prefix(query.lower())
        stmt = stmt.where(
            or_(
                Organization.slug.like(pattern, escape="\\"),
                func.lower(Organization.name).like(pattern, escape="\\"),
            )
        )
    found = list(db.session.scalars(stmt.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return page(
        "orgs.html",
        orgs=found[:PAGE_SIZE],
        query=query,
        number=number,
        has_next=len(found) > PAGE_SIZE,
    )


@admin.get("/orgs/<org_id>")
def organization(org_id: str) -> Response:
    found = db.session.get(Organization, uuid_or_404(org_id))
    if found is None:
        abort(404, "There is no such organization.")
    members = db.session.scalars(
        select(OrganizationMember)
        .where(OrganizationMember.organization_id == found.id)
        .options(selectinload(OrganizationMember.user), selectinload(OrganizationMember.roles))
    )
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.organization_id == found.id)
        .options(selectinload(Invitation.roles))
        .order_by(Invitation.created_at.desc())
    )
    return page(
        "org.html",
        org=found,
        members=sorted(members, key=lambda member: member.user.email),
        invitations=list(invitations),
        events=AuditEvent.page(organization_id=found.id, limit=RECENT_EVENTS),
    )
