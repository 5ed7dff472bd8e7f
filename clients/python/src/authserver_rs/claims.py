"""The claims of an authserver access token as typed values, and the role and permission rules.

Pure: nothing here reaches the network, so these rules are tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What `sub` names (the `sub_kind` claim). An open set: a newer server adds kinds (API keys
# acting for a person or an organization), and an unknown kind is kept as its string rather
# than refused, so such a token is neither a person's nor a service's here.
PERSON = "person"
SERVICE = "service"


class MalformedClaims(ValueError):
    """A claim has the wrong type; the token cannot be trusted to mean anything."""


@dataclass(frozen=True)
class Membership:
    """One organization of the `orgs` claim: the person's roles there (`service:role`)."""

    id: str
    slug: str
    roles: frozenset[str]

    def names(self, org: str) -> bool:
        return org in (self.id, self.slug)


@dataclass(frozen=True)
class OrgScope:
    """The organization an org-scoped token (`organization=` at /authorize) acts in."""

    id: str
    slug: str
    roles: frozenset[str]
    permissions: frozenset[str]

    def names(self, org: str) -> bool:
        return org in (self.id, self.slug)


@dataclass(frozen=True)
class AccessToken:
    """A verified access token for `service` (the audience it was checked for)."""

    service: str
    issuer: str
    subject: str
    subject_kind: str
    audience: tuple[str, ...]
    client_id: str
    scopes: frozenset[str]
    token_id: str
    issued_at: int
    expires_at: int
    auth_time: int | None
    family_id: str | None
    orgs: tuple[Membership, ...] | None
    orgs_truncated: bool
    org: OrgScope | None
    claims: Mapping[str, Any]
    # The service's own role -> permissions map (from its manifest), so the `orgs` claim,
    # which lists roles only, can answer permission questions too.
    role_permissions: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def is_person(self) -> bool:
        return self.subject_kind == PERSON

    @property
    def is_service(self) -> bool:
        return self.subject_kind == SERVICE

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def has_role(self, role: str, org: str | None = None) -> bool:
        """`role` is `name` (this service's) or `service:name`. `org` (id or slug) may be
        left out only for an org-scoped token, which answers for its own org alone."""
        held = self._held(org)
        return held is not None and self._qualify(role, parts=2) in held[0]

    def has_permission(self, permission: str, org: str | None = None) -> bool:
        """`permission` is `resource:action` (this service's) or `service:resource:action`.
        Answered from an org-scoped token's `permissions`, or from the `orgs` claim's roles
        through the service's manifest. False when the token says nothing about `org`."""
        held = self._held(org)
        return held is not None and self._qualify(permission, parts=3) in held[1]

    def is_member(self, org: str) -> bool:
        return self._held(org) is not None

    def lacks_orgs(self, org: str) -> bool:
        """True when the `orgs` claim was cut at its size bound (authserver lists the 50
        oldest memberships) and `org` may be among those left out. Only an org-scoped token
        (`organization=<org>` at /authorize) can then say what the person holds there."""
        return self.orgs_truncated and self._held(org) is None

    def _held(self, org: str | None) -> tuple[frozenset[str], frozenset[str]] | None:
        """The roles and permissions held in `org` (the scoped org when None). An org-scoped
        token answers for its own org only: the person consented to act in that one."""
        if self.org is not None:
            if org is None or self.org.names(org):
                return self.org.roles, self.org.permissions
            return None
        if org is None:
            return None  # a token for several orgs never answers for "any" of them
        for membership in self.orgs or ():
            if membership.names(org):
                return membership.roles, permissions_of(membership.roles, self.role_permissions)
        return None

    def _qualify(self, name: str, *, parts: int) -> str:
        return name if name.count(":") == parts - 1 else f"{self.service}:{name}"


def permissions_of(
    roles: Iterable[str], role_permissions: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    found: set[str] = set()
    for role in roles:
        found |= role_permissions.get(role, frozenset())
    return frozenset(found)


def role_permissions_of(manifest: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """`{"service:role": {"service:resource:action", ...}}` from a service manifest."""
    service = manifest["service"]
    return {
        f"{service}:{role['name']}": frozenset(f"{service}:{p}" for p in role["permissions"])
        for role in manifest.get("roles", [])
    }


def parse_claims(
    claims: Mapping[str, Any],
    service: str,
    role_permissions: Mapping[str, frozenset[str]] | None = None,
) -> AccessToken:
    """Typed claims of a token whose signature, `iss`, `aud` and times were checked."""
    audience = claims.get("aud")
    return AccessToken(
        service=service,
        issuer=_string(claims, "iss"),
        subject=_string(claims, "sub"),
        subject_kind=_string(claims, "sub_kind", default=""),
        audience=tuple(_strings(audience if isinstance(audience, list) else [audience], "aud")),
        client_id=_string(claims, "client_id", default=""),
        scopes=frozenset(_string(claims, "scope", default="").split()),
        token_id=_string(claims, "jti", default=""),
        issued_at=_number(claims, "iat"),
        expires_at=_number(claims, "exp"),
        auth_time=_number(claims, "auth_time") if "auth_time" in claims else None,
        family_id=_string(claims, "family_id") if "family_id" in claims else None,
        orgs=parse_memberships(claims["orgs"]) if "orgs" in claims else None,
        orgs_truncated=claims.get("orgs_truncated") is True,
        org=_org_scope(claims) if "org_id" in claims else None,
        claims=claims,
        role_permissions=role_permissions or {},
    )


def parse_memberships(value: Any) -> tuple[Membership, ...]:
    """The `orgs` claim: `[{"id", "slug", "roles": ["service:role", ...]}]`."""
    if not isinstance(value, list):
        raise MalformedClaims("orgs must be a list")
    memberships = []
    for entry in value:
        if not isinstance(entry, dict):
            raise MalformedClaims("orgs entries must be objects")
        memberships.append(
            Membership(
                id=_string(entry, "id"),
                slug=_string(entry, "slug"),
                roles=frozenset(_strings(entry.get("roles", []), "roles")),
            )
        )
    return tuple(memberships)


def _org_scope(claims: Mapping[str, Any]) -> OrgScope:
    return OrgScope(
        id=_string(claims, "org_id"),
        slug=_string(claims, "org_slug", default=""),
        roles=frozenset(_strings(claims.get("roles", []), "roles")),
        permissions=frozenset(_strings(claims.get("permissions", []), "permissions")),
    )


def _string(claims: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = claims.get(name, default)
    if not isinstance(value, str):
        raise MalformedClaims(f"{name} must be a string")
    return value


def _strings(values: Any, name: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MalformedClaims(f"{name} must be a list of strings")
    return values


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    # bool is an int in Python; a JSON true is not a NumericDate.
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise MalformedClaims(f"{name} must be a number")
    return int(value)
