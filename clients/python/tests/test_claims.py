"""The role and permission rules on claim sets, without a server (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authserver_rs.claims import MalformedClaims, parse_claims, role_permissions_of
from authserver_rs.errors import InvalidToken
from authserver_rs.verifier import check_unbound

from conftest import MANIFEST

ROLE_PERMISSIONS = role_permissions_of(json.loads(MANIFEST.read_text()))
BASE: dict[str, Any] = {
    "iss": "https://auth.example.com",
    "sub": "5f0c0f3e-2d0e-4c57-9a38-2b8f4a3c9d11",
    "sub_kind": "person",
    "aud": "billing",
    "client_id": "web",
    "scope": "openid orgs",
    "jti": "j1",
    "iat": 1000,
    "exp": 1600,
}
ACME = {"id": "a-id", "slug": "acme", "roles": ["billing:clerk", "auth:owner"]}
GLOBEX = {"id": "g-id", "slug": "globex", "roles": ["billing:viewer"]}
SCOPED = {
    "org_id": "a-id",
    "org_slug": "acme",
    "roles": ["billing:clerk"],
    "permissions": ["billing:invoice:read", "billing:invoice:write"],
}


def token(**claims: Any) -> Any:
    return parse_claims(BASE | claims, "billing", ROLE_PERMISSIONS)


@pytest.mark.parametrize(
    ("permission", "org", "expected"),
    [
        ("invoice:write", None, True),
        ("invoice:write", "acme", True),
        ("invoice:write", "a-id", True),
        ("billing:invoice:write", "acme", True),
        ("payment:refund", None, False),
        ("invoice:write", "globex", False),  # an org-scoped token answers for its org only
        ("other:invoice:write", None, False),
    ],
)
def test_an_org_scoped_token_decides_by_its_permissions(
    permission: str, org: str | None, expected: bool
) -> None:
    assert token(**SCOPED, orgs=[ACME, GLOBEX]).has_permission(permission, org=org) is expected


@pytest.mark.parametrize(
    ("permission", "org", "expected"),
    [
        ("invoice:write", "acme", True),
        ("invoice:read", "globex", True),
        ("invoice:write", "globex", False),
        ("invoice:read", "initech", False),
        ("invoice:read", None, False),  # several orgs: none is chosen for you
    ],
)
def test_the_orgs_claim_decides_per_org_through_the_manifest(
    permission: str, org: str | None, expected: bool
) -> None:
    assert token(orgs=[ACME, GLOBEX]).has_permission(permission, org=org) is expected


def test_roles_are_named_short_or_fully() -> None:
    claims = token(orgs=[ACME])
    assert claims.has_role("clerk", org="acme") and claims.has_role("billing:clerk", org="acme")
    assert claims.has_role("auth:owner", org="acme") and not claims.has_role("owner", org="acme")


def test_a_token_without_org_claims_holds_nothing() -> None:
    claims = token()
    assert claims.orgs is None and claims.org is None
    assert not claims.has_role("clerk", org="acme") and not claims.is_member("acme")


def test_a_truncated_orgs_claim_says_an_unlisted_org_may_be_missing() -> None:
    claims = token(orgs=[ACME], orgs_truncated=True)
    assert claims.lacks_orgs("initech") and not claims.lacks_orgs("acme")
    assert not token(orgs=[ACME]).lacks_orgs("initech")


@pytest.mark.parametrize(
    ("kind", "person", "service"),
    [
        ("person", True, False),
        ("service", False, True),
        ("api_key", False, False),
        ("", False, False),
    ],
)
def test_the_subject_kind_is_an_open_set(kind: str, person: bool, service: bool) -> None:
    claims = token(sub_kind=kind)
    assert claims.subject_kind == kind
    assert (claims.is_person, claims.is_service) == (person, service)


def test_aud_may_be_a_list() -> None:
    assert token(aud=["billing", "reports"]).audience == ("billing", "reports")


@pytest.mark.parametrize(
    "claims",
    [
        {"orgs": "acme"},
        {"orgs": [{"id": "a", "slug": "acme", "roles": "billing:clerk"}]},
        {"orgs": [["a", "acme"]]},
        {"org_id": "a-id", "permissions": [1]},
        {"exp": True},
        {"exp": "1600"},
        {"scope": ["openid"]},
        {"sub": 7},
    ],
)
def test_malformed_claims_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(MalformedClaims):
        token(**claims)


def test_a_sender_constrained_token_is_refused_until_dpop_is_supported() -> None:
    check_unbound(BASE)
    with pytest.raises(InvalidToken, match="DPoP"):
        check_unbound(BASE | {"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
