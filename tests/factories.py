"""Row factories for storage tests: each makes a valid row, overrides change what a test needs."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import new_secret, sha256_hex
from authserver.models import (
    AuthorizationCode,
    GrantFamily,
    Invitation,
    OAuthClient,
    Organization,
    OrganizationMember,
    Permission,
    RefreshToken,
    Role,
    Service,
    Session,
    Team,
    User,
)


def _save(row: Any) -> Any:
    db.session.add(row)
    db.session.flush()
    return row


def make_user(**over: Any) -> User:
    unique = uuid.uuid4().hex[:8]
    fields = {"email": f"person-{unique}@example.com", "display_name": f"Person {unique}"}
    return _save(User(**{**fields, **over}))


def make_org(**over: Any) -> Organization:
    unique = uuid.uuid4().hex[:8]
    return _save(Organization(**{"name": f"Org {unique}", "slug": f"org-{unique}", **over}))


def make_service(name: str = "billing") -> Service:
    return db.session.get(Service, name) or _save(Service(name=name))


def make_role(service: str = "billing", name: str = "viewer", **over: Any) -> Role:
    make_service(service)
    return _save(Role(service=service, name=name, **over))


def make_permission(service: str = "billing", resource: str = "invoice", action: str = "read"):
    make_service(service)
    return _save(Permission(service=service, resource=resource, action=action))


def make_member(org: Organization, user: User, roles: list[Role] | None = None):
    return _save(OrganizationMember(organization_id=org.id, user_id=user.id, roles=roles or []))


def make_client(**over: Any) -> OAuthClient:
    fields = {
        "client_id": f"client-{uuid.uuid4().hex[:8]}",
        "client_secret_hash": sha256_hex(new_secret()),
        "name": "Test app",
        "redirect_uris": ["https://app.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    return _save(OAuthClient(**{**fields, **over}))


def make_session(user: User, **over: Any) -> Session:
    now = utcnow()
    fields = {
        "user_id": user.id,
        "token_hash": sha256_hex(new_secret()),
        "idle_expires_at": now + timedelta(days=1),
        "expires_at": now + timedelta(days=7),
        "auth_time": now,
    }
    return _save(Session(**{**fields, **over}))


def make_family(client: OAuthClient, user: User, **over: Any) -> GrantFamily:
    now = utcnow()
    fields = {
        "client_id": client.id,
        "user_id": user.id,
        "auth_time": now,
        "expires_at": now + timedelta(days=30),
    }
    return _save(GrantFamily(**{**fields, **over}))


def make_code(client: OAuthClient, user: User, **over: Any) -> AuthorizationCode:
    now = utcnow()
    fields = {
        "code_hash": sha256_hex(new_secret()),
        "client_id": client.id,
        "user_id": user.id,
        "redirect_uri": client.redirect_uris[0],
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "auth_time": now,
        "expires_at": now + timedelta(seconds=60),
    }
    return _save(AuthorizationCode(**{**fields, **over}))


def make_refresh_token(family: GrantFamily, **over: Any) -> RefreshToken:
    fields = {
        "token_hash": sha256_hex(new_secret()),
        "family_id": family.id,
        "client_id": family.client_id,
        "user_id": family.user_id,
        "expires_at": utcnow() + timedelta(days=14),
    }
    return _save(RefreshToken(**{**fields, **over}))


def make_invitation(org: Organization, email: str = "new@example.com", **over: Any) -> Invitation:
    fields = {
        "organization_id": org.id,
        "email": email,
        "token_hash": sha256_hex(new_secret()),
        "expires_at": utcnow() + timedelta(days=7),
    }
    return _save(Invitation(**{**fields, **over}))


def make_team(org: Organization, slug: str = "support", **over: Any) -> Team:
    fields = {"organization_id": org.id, "name": slug.title(), "slug": slug}
    return _save(Team(**{**fields, **over}))
