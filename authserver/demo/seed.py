"""`authserver demo setup`: a demo person, organization and client, made or refreshed."""

from __future__ import annotations

from dataclasses import dataclass

from authserver.extensions import db
from authserver.hashing import new_secret
from authserver.identity.passwords import hash_password
from authserver.models import OAuthClient, Organization, OrganizationMember, User
from authserver.oauth.registration import ClientSpec, register

DEMO_EMAIL = "demo@example.com"
DEMO_CLIENT_ID = "authserver-demo"
DEMO_ORG_SLUG = "demo"


@dataclass(frozen=True)
class Seeded:
    email: str
    password: str
    client_id: str


def seed(issuer: str) -> Seeded:
    """Idempotent: a second run keeps the rows and gives the person a new password."""
    password = new_secret()[:20]
    user = User.find_by_email(DEMO_EMAIL)
    if user is None:
        user = User(email=DEMO_EMAIL, email_verified=True, display_name="Demo Person")
        db.session.add(user)
    user.password_hash = hash_password(password)
    db.session.flush()
    org = Organization.find_by_slug(DEMO_ORG_SLUG)
    if org is None:
        org = Organization(name="Demo Organization", slug=DEMO_ORG_SLUG)
        db.session.add(org)
        db.session.flush()
    if not any(member.user_id == user.id for member in org.members):
        db.session.add(OrganizationMember(organization_id=org.id, user_id=user.id))
    if OAuthClient.find(DEMO_CLIENT_ID) is None:
        register(
            ClientSpec(
                name="authserver demo",
                client_id=DEMO_CLIENT_ID,
                auth_method="none",  # a public client: PKCE only, nothing to keep secret
                redirect_uris=(f"{issuer}/demo/callback",),
                post_logout_redirect_uris=(f"{issuer}/demo",),
            )
        )
    db.session.flush()
    return Seeded(DEMO_EMAIL, password, DEMO_CLIENT_ID)
