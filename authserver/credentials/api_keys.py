"""API keys: made (shown once, stored as SHA-256), listed, revoked, and found for an exchange.
A person's key acts for them with some of their scopes; an organization's key acts for the
org with service roles and teams its creator may grant. Plain exceptions (orgs/service.py)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.mfa.policy import allows_org_token
from authserver.models import ApiKey, Role, User
from authserver.numbers import ascii_uuid
from authserver.orgs.service import (
    Caller,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    checked_name,
    lock_organization,
)
from authserver.orgs.teams import grantable_roles, resolve_teams
from authserver.services.auth_manifest import AUTH_SERVICE

KEY_PREFIX = "ask_live_"
SHOWN_CHARACTERS = len(KEY_PREFIX) + 8  # ask_live_Ab12Cd34: enough to tell keys apart
PERSONAL_SCOPES = frozenset({"orgs"})  # what a person's key's tokens may carry
MIN_TTL, MAX_TTL = 3600, 366 * 86400
MAX_KEYS = 50  # per person or organization: keys are few and long-lived
USE_RECORDED_EVERY = timedelta(minutes=1)


def _new_key(name: object, expires_in: object) -> tuple[ApiKey, str]:
    if expires_in is not None and (
        not isinstance(expires_in, int)
        or isinstance(expires_in, bool)
        or not MIN_TTL <= expires_in <= MAX_TTL
    ):
        raise Invalid(
            lazy_gettext(
                "expires_in must be %(low)s to %(high)s seconds.", low=MIN_TTL, high=MAX_TTL
            ),
            field="expires_in",
        )
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    key = ApiKey(
        name=checked_name(name),
        prefix=raw[:SHOWN_CHARACTERS],
        secret_hash=sha256_hex(raw),
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in) if expires_in is not None else None,
    )
    return key, raw


def create_personal(
    user: User, name: object, scopes: object, expires_in: object
) -> tuple[ApiKey, str]:
    """A key acting for `user`, with `scopes` among PERSONAL_SCOPES."""
    wanted = ["orgs"] if scopes is None else scopes
    if not isinstance(wanted, list) or not set(wanted) <= PERSONAL_SCOPES:
        raise Invalid(
            lazy_gettext(
                "scopes must be a list of %(scopes)s.", scopes=", ".join(sorted(PERSONAL_SCOPES))
            ),
            field="scopes",
        )
    # Counted under a lock on the person's row: two creations at once cannot pass MAX_KEYS.
    db.session.scalar(select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    if len(ApiKey.of_user(user.id)) >= MAX_KEYS:
        raise Conflict(
            lazy_gettext("A person keeps at most %(count)s keys; revoke one first.", count=MAX_KEYS)
        )
    key, raw = _new_key(name, expires_in)
    key.user_id, key.created_by_id, key.scopes = user.id, user.id, sorted(set(wanted))
    db.session.add(key)
    db.session.flush()
    return key, raw


class SecondFactorRequired(Forbidden):
    slug = "second-factor-required"


def create_for_org(
    by: Caller,
    name: object,
    role_names: object,
    team_ids: object,
    expires_in: object,
    *,
    auth_methods: Sequence[str],
) -> tuple[ApiKey, str]:
    """A key acting for the organization with service roles and teams, never more than
    `by` may grant (the rules of team roles: no auth roles, owners make owners), made by a
    sign-in (`auth_methods`, RFC 8176) that meets the organization's second-factor rule."""
    by.require("key:manage")
    check_second_factor(by, auth_methods)
    roles = grantable_roles(by, role_names)
    teams = resolve_teams(by, team_ids)
    if teams:
        by.require("team:manage")
    lock_organization(by.organization.id)  # counted under the lock, as members are
    if len(ApiKey.of_organization(by.organization.id)) >= MAX_KEYS:
        raise Conflict(
            lazy_gettext(
                "An organization keeps at most %(count)s keys; revoke one first.", count=MAX_KEYS
            )
        )
    key, raw = _new_key(name, expires_in)
    key.organization_id, key.created_by_id = by.organization.id, by.user.id
    key.roles, key.teams = roles, teams
    db.session.add(key)
    db.session.flush()
    return key, raw


def check_second_factor(by: Caller, auth_methods: Sequence[str]) -> None:
    """An organization that requires a second factor gets keys only from admins who signed
    in with one: a key outlives the sign-in that made it, so a stolen password alone must
    not mint the org a credential. Using a key (the exchange) is not a sign-in and is not
    asked for one (README "API keys")."""
    if not allows_org_token(by.organization.id, tuple(auth_methods)):
        raise SecondFactorRequired(
            lazy_gettext("This organization requires a second factor: sign in again with one.")
        )


def offered_roles(by: Caller) -> list[Role]:
    """The roles `by` may give an org key, for a form to offer: every service's roles but
    the auth server's own (grantable_roles still decides what is sent)."""
    by.require("key:manage")
    stmt = select(Role).where(Role.service != AUTH_SERVICE).order_by(Role.service, Role.name)
    return list(db.session.scalars(stmt))


def personal_keys(user: User) -> list[ApiKey]:
    return ApiKey.of_user(user.id)


def org_keys(by: Caller) -> list[ApiKey]:
    by.require("key:manage")
    return ApiKey.of_organization(by.organization.id)


def revoke_personal(user: User, key_id: str) -> ApiKey:
    key = _find(key_id)
    if key is None or key.user_id != user.id:
        raise NotFound(lazy_gettext("No such key."))
    return _revoke(key)


def revoke_for_org(by: Caller, key_id: str) -> ApiKey:
    by.require("key:manage")
    key = _find(key_id)
    if key is None or key.organization_id != by.organization.id:
        raise NotFound(lazy_gettext("No such key."))
    return _revoke(key)


def _revoke(key: ApiKey) -> ApiKey:
    if key.revoked_at is not None:
        raise Conflict(lazy_gettext("The key is already revoked."))
    key.revoked_at = utcnow()
    db.session.flush()
    return key


def _find(key_id: str) -> ApiKey | None:
    try:
        key = ascii_uuid(key_id)
    except ValueError:
        return None
    # Row-locked: a revocation and another at once, one wins and the other is 409.
    stmt = select(ApiKey).where(ApiKey.id == key).with_for_update()
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def find_usable(raw: str, now: datetime) -> ApiKey | None:
    """The key behind `raw` if it is unrevoked, unexpired, and its owner still active: a
    revoked or expired key stops working at once."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200 or not raw.isascii():
        return None
    key = ApiKey.find_by_secret(raw)
    if key is None or not key.is_usable(now):
        return None
    if key.user is not None and not key.user.is_active:
        return None
    return key


def is_use_to_record(key: ApiKey, now: datetime) -> bool:
    """Record last use at most once a minute: an exchange otherwise writes nothing."""
    return key.last_used_at is None or now - key.last_used_at >= USE_RECORDED_EVERY
