"""What the account page shows, read in a few queries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import (
    ApiKey,
    Consent,
    GrantFamily,
    Invitation,
    OAuthAccount,
    OAuthClient,
    OrganizationMember,
    Role,
    Session,
    User,
)
from authserver.numbers import ascii_uuid
from authserver.oauth import families
from authserver.oauth.families import RevocationReason
from authserver.orgs import invitations
from authserver.services.auth_manifest import AUTH_SERVICE


@dataclass(frozen=True)
class Overview:
    accounts: list[OAuthAccount]
    sessions: list[Session]
    consents: list[Consent]
    memberships: list[OrganizationMember]
    invitations: list[Invitation]
    api_keys: list[ApiKey]

    def manages_keys(self, member: OrganizationMember) -> bool:
        """Whether the account page links to the org's API keys: the API's key:manage."""
        return any(
            (p.service, p.resource, p.action) == (AUTH_SERVICE, "key", "manage")
            for role in member.roles
            for p in role.permissions
        )


def overview(user: User) -> Overview:
    now = utcnow()
    return Overview(
        accounts=list(
            db.session.scalars(select(OAuthAccount).where(OAuthAccount.user_id == user.id))
        ),
        sessions=[
            s
            for s in db.session.scalars(
                select(Session)
                .where(Session.user_id == user.id)
                .order_by(Session.last_used_at.desc())
            )
            if not s.is_expired(now)
        ],
        consents=list(
            db.session.scalars(
                select(Consent)
                .where(Consent.user_id == user.id)
                .options(selectinload(Consent.client))
                .order_by(Consent.created_at)
            )
        ),
        memberships=list(
            db.session.scalars(
                select(OrganizationMember)
                .where(OrganizationMember.user_id == user.id)
                .options(
                    selectinload(OrganizationMember.organization),
                    selectinload(OrganizationMember.roles).selectinload(Role.permissions),
                    selectinload(OrganizationMember.teams),
                )
            )
        ),
        invitations=invitations.mine(user),
        api_keys=ApiKey.of_user(user.id),
    )


def people_by_id(ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, User]:
    """The people behind `ids` (e.g. the makers of keys), in one query."""
    wanted = {found for found in ids if found is not None}
    if not wanted:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def find_own_session(user: User, session_id: str) -> Session | None:
    try:
        key = ascii_uuid(session_id)
    except ValueError:
        return None
    found = db.session.get(Session, key)
    return found if found is not None and found.user_id == user.id else None


def disconnect_app(
    user: User, client_id: str, reason: RevocationReason = RevocationReason.USER_REVOKED
) -> OAuthClient | None:
    """Forget the consent and revoke every grant the person gave the client."""
    client = OAuthClient.find(client_id)
    if client is None:
        return None
    consent = Consent.find(user.id, client.id)
    granted = GrantFamily.active_of(user.id, client.id)
    if consent is None and not granted:
        return None
    for family in granted:
        families.revoke_family(family, reason, utcnow())
    if consent is not None:
        db.session.delete(consent)
    db.session.flush()
    return client
