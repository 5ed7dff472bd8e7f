"""Invitations: an admin offers membership with roles (and teams to join) to an email address;
the person with that verified address accepts (membership, roles and teams in one step) or
declines."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from flask import url_for
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.mail import limits, messages
from authserver.models import Invitation, User
from authserver.models.users import normalize_email
from authserver.numbers import ascii_uuid
from authserver.orgs.service import (
    Caller,
    Conflict,
    Invalid,
    NotFound,
    check_may_grant,
    insert_member,
    lock_organization,
    member_of,
    resolve_roles,
)
from authserver.orgs.teams import resolve_teams

EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[a-z0-9.-]+\.[a-z]{2,}$")
MIN_TTL, MAX_TTL = 3600, 90 * 86400


def create(
    by: Caller,
    email: object,
    role_names: object,
    expires_in: object,
    default_ttl: int,
    team_ids: object = None,
) -> Invitation:
    """A pending invitation; its link (only its hash is kept) goes to the invitee by mail.
    Naming teams needs team:manage too: joining one grants its roles."""
    by.require("member:invite")
    if not isinstance(email, str) or not EMAIL.match(normalize_email(email)):
        raise Invalid(lazy_gettext("The email address is malformed."), field="email")
    address = normalize_email(email)
    ttl = default_ttl if expires_in is None else expires_in
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not MIN_TTL <= ttl <= MAX_TTL:
        raise Invalid(
            lazy_gettext(
                "expires_in must be %(low)s to %(high)s seconds.", low=MIN_TTL, high=MAX_TTL
            ),
            field="expires_in",
        )
    roles = resolve_roles(role_names)
    check_may_grant(by, roles)
    lock_organization(by.organization.id)
    offered_teams = resolve_teams(by, team_ids)
    if offered_teams:
        by.require("team:manage")
    invitee = User.find_by_email(address)
    if invitee is not None and member_of(by.organization, invitee.id) is not None:
        raise Conflict(lazy_gettext("That person is already a member."))
    _expire_stale(by.organization.id, address)
    raw = new_secret()
    invitation = Invitation(
        organization_id=by.organization.id,
        email=address,
        inviter_id=by.user.id,
        token_hash=sha256_hex(raw),
        expires_at=utcnow() + timedelta(seconds=ttl),
        roles=roles,
        teams=offered_teams,
    )
    try:
        with db.session.begin_nested():
            db.session.add(invitation)
    except IntegrityError:
        # One pending invitation per (org, email): the partial unique index decides races.
        raise Conflict(
            lazy_gettext("A pending invitation for that address exists."), field="email"
        ) from None
    _mail(invitation, raw, by)
    return invitation


def _mail(invitation: Invitation, raw: str, by: Caller) -> None:
    """The invitee's mail, in the same transaction: no invitation, no mail (outbox)."""
    messages.queue(
        "invitation",
        invitation.email,
        email=invitation.email,
        inviter=by.user.display_name,
        organization=by.organization.name,
        roles=sorted(role.qualified_name for role in invitation.roles),
        teams=sorted(team.name for team in invitation.teams),
        link=current_settings().issuer + url_for("invitation_link.show", token=raw),
        expires=invitation.expires_at.strftime("%Y-%m-%d %H:%M"),
    )


def find_by_token(raw: str) -> Invitation | None:
    """The invitation behind a mailed link, in whatever state it is."""
    if not 0 < len(raw) <= 100 or not raw.isascii():
        return None
    stmt = select(Invitation).where(Invitation.token_hash == sha256_hex(raw))
    return db.session.scalar(stmt.options(selectinload(Invitation.organization)))


def _expire_stale(organization_id: uuid.UUID, email: str) -> None:
    """A pending invitation past its expiry no longer blocks a new one."""
    for stale in db.session.scalars(
        select(Invitation).where(
            Invitation.organization_id == organization_id,
            Invitation.email == email,
            Invitation.state == "pending",
            Invitation.expires_at <= utcnow(),
        )
    ):
        stale.state = "expired"
    db.session.flush()


def list_for_org(by: Caller) -> list[Invitation]:
    by.require("member:invite")
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.organization_id == by.organization.id)
            .options(selectinload(Invitation.roles), selectinload(Invitation.teams))
            .order_by(Invitation.created_at.desc())
        )
    )


def revoke(by: Caller, invitation_id: str) -> Invitation:
    by.require("member:invite")
    invitation = _find(invitation_id, for_update=True)  # revoked and accepted at once: one wins
    if invitation is None or invitation.organization_id != by.organization.id:
        raise NotFound(lazy_gettext("No such invitation."))
    if invitation.state != "pending":
        raise Conflict(lazy_gettext("The invitation is already %(state)s.", state=invitation.state))
    invitation.state = "revoked"
    invitation.responded_at = utcnow()
    db.session.flush()
    return invitation


def resend(by: Caller, invitation_id: str) -> Invitation:
    """Mail a pending invitation again with a new link (the old link stops working). The
    invitee's address is limited like every requested mail (mail/limits.py)."""
    by.require("member:invite")
    invitation = _find(invitation_id, for_update=True)
    if invitation is None or invitation.organization_id != by.organization.id:
        raise NotFound(lazy_gettext("No such invitation."))
    if invitation.state != "pending" or invitation.expires_at <= utcnow():
        raise Conflict(lazy_gettext("Only a pending invitation can be sent again."))
    if not limits.may_mail(invitation.email):
        raise Conflict(
            lazy_gettext("The invitee was mailed several times this hour; try again later.")
        )
    raw = new_secret()
    invitation.token_hash = sha256_hex(raw)
    db.session.flush()
    _mail(invitation, raw, by)
    return invitation


def mine(user: User) -> list[Invitation]:
    if not user.email_verified:
        return []
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.email == user.email,
                Invitation.state == "pending",
                Invitation.expires_at > utcnow(),
            )
            .options(
                selectinload(Invitation.organization),
                selectinload(Invitation.roles),
                selectinload(Invitation.inviter),
            )
        )
    )


def respond(user: User, invitation_id: str, *, accept: bool) -> Invitation:
    """Accept (membership with the offered roles, in the caller's transaction) or decline.
    Only the person whose verified email was invited; anyone else sees a 404."""
    invitation = _find(invitation_id)
    if invitation is None or not user.email_verified or invitation.email != user.email:
        raise NotFound(lazy_gettext("No such invitation."))
    lock_organization(invitation.organization_id)  # the org first, then its rows
    invitation = _find(invitation_id, for_update=True)
    if invitation is None:
        raise NotFound(lazy_gettext("No such invitation."))
    if invitation.state != "pending":
        raise Conflict(lazy_gettext("The invitation is already %(state)s.", state=invitation.state))
    now = utcnow()
    if invitation.expires_at <= now:
        invitation.state = "expired"
        db.session.flush()
        raise Conflict(lazy_gettext("The invitation has expired."), state="expired")
    if accept:
        member = insert_member(invitation.organization_id, user.id, list(invitation.roles))
        for team in invitation.teams:  # a team deleted meanwhile dropped off (CASCADE)
            team.members.append(member)
    invitation.state = "accepted" if accept else "declined"
    invitation.responded_at = now
    invitation.responded_by_id = user.id
    db.session.flush()
    return invitation


def _find(invitation_id: str, *, for_update: bool = False) -> Invitation | None:
    try:
        key = ascii_uuid(invitation_id)
    except ValueError:
        return None
    stmt = select(Invitation).where(Invitation.id == key)
    if for_update:
        # Two answers at once, or an answer and a revocation: one wins, and the other reads
        # the state it left (populate_existing: not the copy read before the lock).
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(stmt)
