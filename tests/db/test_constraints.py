"""Every unique, foreign-key and check constraint rejects a violating row; deletes cascade or
are restricted as DESIGN.md says. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from authserver.extensions import db
from authserver.models import (
    AuthorizationCode,
    Consent,
    GrantFamily,
    Invitation,
    OAuthAccount,
    OAuthClient,
    Organization,
    OrganizationMember,
    PlatformRole,
    RefreshToken,
    Role,
    Service,
    Session,
    User,
)
from authserver.models.orgs import invitation_roles, member_roles
from authserver.models.rbac import role_permissions
from tests.factories import (
    make_client,
    make_code,
    make_family,
    make_invitation,
    make_member,
    make_org,
    make_permission,
    make_refresh_token,
    make_role,
    make_service,
    make_session,
    make_user,
)


def rejected(action: Callable[[], Any]) -> bool:
    """Run the action in a savepoint; True when the database refused it."""
    savepoint = db.session.begin_nested()
    try:
        action()
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        return True
    savepoint.rollback()
    return False


def add(row: Any) -> Callable[[], None]:
    return lambda: db.session.add(row)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---- unique constraints ---------------------------------------------------------------------


def test_user_email_is_unique(app: Flask) -> None:
    user = make_user()
    assert rejected(add(User(email=user.email, display_name="Twin")))


def test_upstream_account_is_unique_per_provider_and_subject(app: Flask) -> None:
    first, second = make_user(), make_user()
    db.session.add(OAuthAccount(user_id=first.id, provider="google", provider_subject="42"))
    db.session.flush()
    assert rejected(add(OAuthAccount(user_id=second.id, provider="google", provider_subject="42")))
    assert not rejected(
        add(OAuthAccount(user_id=second.id, provider="okta", provider_subject="42"))
    )


def test_role_name_is_unique_per_service(app: Flask) -> None:
    make_role("billing", "admin")
    assert rejected(lambda: make_role("billing", "admin"))
    assert not rejected(lambda: make_role("crm", "admin"))


def test_permission_is_unique_per_service_resource_action(app: Flask) -> None:
    make_permission("billing", "invoice", "read")
    assert rejected(lambda: make_permission("billing", "invoice", "read"))
    assert not rejected(lambda: make_permission("billing", "invoice", "write"))


def test_one_membership_per_org_and_user(app: Flask) -> None:
    org, user = make_org(), make_user()
    make_member(org, user)
    assert rejected(lambda: make_member(org, user))


def test_org_slug_is_unique(app: Flask) -> None:
    org = make_org()
    assert rejected(lambda: make_org(slug=org.slug))


def test_one_pending_invitation_per_org_and_email(app: Flask) -> None:
    org = make_org()
    make_invitation(org, "new@example.com")
    assert rejected(lambda: make_invitation(org, "new@example.com"))
    assert not rejected(lambda: make_invitation(make_org(), "new@example.com"))


def test_answered_invitations_do_not_block_a_new_pending_one(app: Flask) -> None:
    org = make_org()
    make_invitation(org, "new@example.com", state="declined")
    make_invitation(org, "new@example.com", state="expired")
    assert not rejected(lambda: make_invitation(org, "new@example.com"))


def test_client_id_is_unique(app: Flask) -> None:
    client = make_client()
    assert rejected(lambda: make_client(client_id=client.client_id))


@pytest.mark.parametrize(
    "make_pair",
    [
        lambda user, client: (make_session(user), lambda h: make_session(user, token_hash=h)),
        lambda user, client: (
            make_code(client, user),
            lambda h: make_code(client, user, code_hash=h),
        ),
        lambda user, client: (
            make_refresh_token(make_family(client, user)),
            lambda h: make_refresh_token(make_family(client, user), token_hash=h),
        ),
    ],
    ids=["session", "authorization_code", "refresh_token"],
)
def test_secret_hashes_are_unique(app: Flask, make_pair: Callable[..., Any]) -> None:
    user, client = make_user(), make_client()
    first, make_again = make_pair(user, client)
    stored = getattr(first, "token_hash", None) or first.code_hash
    assert rejected(lambda: make_again(stored))


def test_invitation_token_hash_is_unique(app: Flask) -> None:
    invitation = make_invitation(make_org())
    assert rejected(lambda: make_invitation(make_org(), token_hash=invitation.token_hash))


def test_one_consent_per_user_and_client(app: Flask) -> None:
    user, client = make_user(), make_client()
    db.session.add(Consent(user_id=user.id, client_id=client.id, scopes=["openid"]))
    db.session.flush()
    assert rejected(add(Consent(user_id=user.id, client_id=client.id, scopes=["email"])))


def test_one_platform_role_per_user(app: Flask) -> None:
    user = make_user()
    db.session.add(PlatformRole(user_id=user.id, role="admin"))
    db.session.flush()
    assert rejected(add(PlatformRole(user_id=user.id, role="root")))


# ---- foreign keys ---------------------------------------------------------------------------

NOWHERE = uuid.UUID(int=1)


@pytest.mark.parametrize(
    "build",
    [
        lambda: OAuthAccount(user_id=NOWHERE, provider="google", provider_subject="1"),
        lambda: OrganizationMember(organization_id=make_org().id, user_id=NOWHERE),
        lambda: OrganizationMember(organization_id=NOWHERE, user_id=make_user().id),
        lambda: Role(service="no-such-service", name="admin"),
        lambda: make_client(service_name="no-such-service"),
        lambda: make_session(User(id=NOWHERE)),
        lambda: make_refresh_token(
            GrantFamily(id=NOWHERE, client_id=make_client().id, user_id=make_user().id)
        ),
        lambda: make_code(make_client(), User(id=NOWHERE)),
        lambda: make_invitation(Organization(id=NOWHERE)),
        lambda: Consent(user_id=make_user().id, client_id=NOWHERE, scopes=[]),
    ],
    ids=[
        "oauth_account.user",
        "member.user",
        "member.organization",
        "role.service",
        "client.service",
        "session.user",
        "refresh_token.family",
        "code.user",
        "invitation.organization",
        "consent.client",
    ],
)
def test_a_reference_to_a_missing_row_is_rejected(app: Flask, build: Callable[[], Any]) -> None:
    def attempt() -> None:
        row = build()
        if row is not None and row not in db.session:
            db.session.add(row)

    assert rejected(attempt)


@pytest.mark.parametrize(
    ("table", "values"),
    [
        (member_roles, lambda: {"member_id": NOWHERE, "role_id": make_role().id}),
        (member_roles, lambda: {"member_id": _member().id, "role_id": NOWHERE}),
        (role_permissions, lambda: {"role_id": make_role().id, "permission_id": NOWHERE}),
        (invitation_roles, lambda: {"invitation_id": NOWHERE, "role_id": make_role().id}),
    ],
    ids=[
        "member_roles.member",
        "member_roles.role",
        "role_permissions.permission",
        "invitation_roles.invitation",
    ],
)
def test_a_link_to_a_missing_row_is_rejected(app: Flask, table: Any, values: Any) -> None:
    assert rejected(lambda: db.session.execute(insert(table).values(**values())))


def _member() -> OrganizationMember:
    return make_member(make_org(), make_user())


# ---- check constraints ----------------------------------------------------------------------


def test_platform_role_must_be_known(app: Flask) -> None:
    assert rejected(add(PlatformRole(user_id=make_user().id, role="superuser")))


def test_invitation_state_must_be_known(app: Flask) -> None:
    assert rejected(lambda: make_invitation(make_org(), state="maybe"))


def test_public_client_has_no_secret_and_confidential_client_has_one(app: Flask) -> None:
    assert rejected(lambda: make_client(token_endpoint_auth_method="none"))
    assert rejected(lambda: make_client(client_secret_hash=None))
    assert rejected(lambda: make_client(token_endpoint_auth_method="private_key_jwt"))
    assert not rejected(
        lambda: make_client(token_endpoint_auth_method="none", client_secret_hash=None)
    )


# ---- deletes: cascade, set null, restrict ---------------------------------------------------


def test_deleting_a_user_removes_what_is_theirs(app: Flask) -> None:
    user, inviter, client = make_user(), make_user(), make_client()
    db.session.add(OAuthAccount(user_id=user.id, provider="google", provider_subject="7"))
    db.session.add(PlatformRole(user_id=user.id, role="admin"))
    db.session.add(Consent(user_id=user.id, client_id=client.id, scopes=["openid"]))
    make_session(user)
    make_code(client, user)
    make_refresh_token(make_family(client, user))
    org = make_org()
    make_member(org, user, [make_role()])
    invitation = make_invitation(org, inviter_id=user.id)
    db.session.commit()

    db.session.execute(delete(User).where(User.id == user.id))
    db.session.commit()
    db.session.expire_all()

    for model in (
        OAuthAccount,
        PlatformRole,
        Consent,
        Session,
        AuthorizationCode,
        RefreshToken,
        GrantFamily,
        OrganizationMember,
    ):
        assert count(model) == 0, model.__name__
    assert db.session.scalar(select(func.count()).select_from(member_roles)) == 0
    assert db.session.get(Invitation, invitation.id).inviter_id is None  # history stays
    assert db.session.get(User, inviter.id) is not None


def test_deleting_an_org_removes_its_members_and_invitations(app: Flask) -> None:
    org, user = make_org(), make_user()
    make_member(org, user, [make_role()])
    invitation = make_invitation(org)
    invitation.roles = [make_role("billing", "admin")]
    db.session.commit()

    db.session.execute(delete(Organization).where(Organization.id == org.id))
    db.session.commit()

    assert count(OrganizationMember) == 0 and count(Invitation) == 0
    assert db.session.scalar(select(func.count()).select_from(member_roles)) == 0
    assert db.session.scalar(select(func.count()).select_from(invitation_roles)) == 0
    assert count(User) == 1 and count(Role) == 2


def test_a_role_that_members_hold_cannot_be_deleted(app: Flask) -> None:
    role = make_role()
    make_member(make_org(), make_user(), [role])
    db.session.commit()
    assert rejected(lambda: db.session.execute(delete(Role).where(Role.id == role.id)))


def test_deleting_an_unheld_role_removes_its_grants_and_invitation_offers(app: Flask) -> None:
    role = make_role()
    role.permissions = [make_permission()]
    invitation = make_invitation(make_org())
    invitation.roles = [role]
    db.session.commit()

    db.session.execute(delete(Role).where(Role.id == role.id))
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(role_permissions)) == 0
    assert db.session.scalar(select(func.count()).select_from(invitation_roles)) == 0
    assert count(Invitation) == 1


def test_a_service_with_bound_clients_cannot_be_deleted(app: Flask) -> None:
    make_service("billing")
    make_client(service_name="billing")
    db.session.commit()
    assert rejected(lambda: db.session.execute(delete(Service).where(Service.name == "billing")))


def test_deleting_a_client_removes_its_codes_tokens_families_and_consents(app: Flask) -> None:
    user, client = make_user(), make_client()
    make_code(client, user)
    make_refresh_token(make_family(client, user))
    db.session.add(Consent(user_id=user.id, client_id=client.id, scopes=["openid"]))
    db.session.commit()

    db.session.execute(delete(OAuthClient).where(OAuthClient.id == client.id))
    db.session.commit()

    for model in (AuthorizationCode, RefreshToken, GrantFamily, Consent):
        assert count(model) == 0, model.__name__
    assert count(User) == 1


def test_ending_a_session_keeps_the_grants_it_started(app: Flask) -> None:
    user, client = make_user(), make_client()
    session = make_session(user)
    family = make_family(client, user, session_id=session.id)
    db.session.commit()

    db.session.execute(delete(Session).where(Session.id == session.id))
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(GrantFamily, family.id).session_id is None


def test_timestamps_come_back_timezone_aware_utc(app: Flask) -> None:
    user = make_user()
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(User, user.id)
    assert loaded.created_at.utcoffset() is not None
    assert loaded.created_at.utcoffset().total_seconds() == 0


def test_naive_timestamps_are_refused(app: Flask) -> None:
    from datetime import datetime

    with pytest.raises(Exception, match="naive datetimes are refused"):
        make_user(last_sign_in_at=datetime(2026, 1, 1))
