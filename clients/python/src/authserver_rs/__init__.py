"""authserver_rs: what a resource server needs from authserver. Verify its access tokens
offline (or live), decide by roles and permissions, and publish the service's manifest."""

from __future__ import annotations

from authserver_rs.claims import PERSON, SERVICE, AccessToken, Membership, OrgScope
from authserver_rs.dpop import DPoPPolicy, DPoPRequest
from authserver_rs.errors import (
    AuthserverError,
    CannotDecide,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    IssuerUnavailable,
    MissingToken,
    ReplayCacheUnavailable,
    TokenRefused,
)
from authserver_rs.guard import Requirement, authorize, challenge
from authserver_rs.introspection import ClientCredentials
from authserver_rs.manifest import ManifestRejected, PublishFailed, SyncResult, publish_manifest
from authserver_rs.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from authserver_rs.verifier import Verifier

__version__ = "0.2.1"

__all__ = [
    "PERSON",
    "SERVICE",
    "AccessToken",
    "AuthserverError",
    "CannotDecide",
    "ClientCredentials",
    "DPoPPolicy",
    "DPoPRequest",
    "InsufficientScope",
    "InvalidDPoPProof",
    "InvalidToken",
    "IssuerUnavailable",
    "ManifestRejected",
    "Membership",
    "MemoryReplayCache",
    "MissingToken",
    "OrgScope",
    "PublishFailed",
    "RedisReplayCache",
    "ReplayCache",
    "ReplayCacheUnavailable",
    "Requirement",
    "SyncResult",
    "TokenRefused",
    "Verifier",
    "__version__",
    "authorize",
    "challenge",
    "publish_manifest",
]
