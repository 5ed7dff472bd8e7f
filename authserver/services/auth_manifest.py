"""The auth server's own manifest: it is a service too, and org actions check these roles."""

from __future__ import annotations

from typing import Any

AUTH_SERVICE = "auth"

AUTH_MANIFEST: dict[str, Any] = {
    "service": AUTH_SERVICE,
    "description": "authserver itself: organizations, members, teams and invitations",
    "permissions": [
        {"resource": "org", "action": "manage", "description": "Rename or delete the organization"},
        {"resource": "member", "action": "manage", "description": "Add, change and remove members"},
        {"resource": "member", "action": "invite", "description": "Invite people"},
        {"resource": "member", "action": "read", "description": "See the members and teams"},
        {"resource": "team", "action": "manage", "description": "Create, change and delete teams"},
        {"resource": "key", "action": "manage", "description": "Create and revoke org API keys"},
        {"resource": "audit", "action": "read", "description": "Read the organization's audit log"},
    ],
    "roles": [
        {
            "name": "owner",
            "description": "Owns the organization",
            "permissions": [
                "org:manage",
                "member:manage",
                "member:invite",
                "member:read",
                "team:manage",
                "key:manage",
                "audit:read",
            ],
        },
        {
            "name": "admin",
            "description": "Manages members, teams and invitations",
            "permissions": [
                "member:manage",
                "member:invite",
                "member:read",
                "team:manage",
                "key:manage",
                "audit:read",
            ],
        },
        {"name": "member", "description": "A member", "permissions": ["member:read"]},
    ],
}
