"""The data model, one module per aggregate. Importing this package registers every table."""

from authserver.models.api_keys import ApiKey
from authserver.models.assertions import UsedClientAssertion
from authserver.models.audit import AuditEvent
from authserver.models.clients import OAuthClient
from authserver.models.device import DeviceAuthorization
from authserver.models.grants import AuthorizationCode, Consent, GrantFamily, RefreshToken
from authserver.models.mfa import (
    OrganizationFactorPolicy,
    PendingSignIn,
    RecoveryCode,
    TotpSecret,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from authserver.models.orgs import Invitation, Organization, OrganizationMember
from authserver.models.outbox import OutboxMessage
from authserver.models.pending import PendingAuthorization
from authserver.models.proofs import DPoPProofUse
from authserver.models.pushed import PushedAuthorizationRequest
from authserver.models.rbac import Permission, Role, Service
from authserver.models.sessions import Session
from authserver.models.teams import Team
from authserver.models.users import OAuthAccount, PlatformRole, User
from authserver.models.verification import VerificationToken

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthorizationCode",
    "Consent",
    "DPoPProofUse",
    "DeviceAuthorization",
    "GrantFamily",
    "Invitation",
    "OAuthAccount",
    "OAuthClient",
    "Organization",
    "OrganizationFactorPolicy",
    "OrganizationMember",
    "OutboxMessage",
    "PendingAuthorization",
    "PendingSignIn",
    "Permission",
    "PlatformRole",
    "RecoveryCode",
    "PushedAuthorizationRequest",
    "RefreshToken",
    "Role",
    "Service",
    "Session",
    "Team",
    "TotpSecret",
    "UsedClientAssertion",
    "User",
    "VerificationToken",
    "WebAuthnChallenge",
    "WebAuthnCredential",
]
