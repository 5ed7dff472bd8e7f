"""The auth server's own manifest: it is a service too, and org actions check these roles."""

from __future__ import annotations

from typing import Any

AUTH_SERVICE = "auth"

AUTH_MANIFEST: dict[str, Any] = {
    "service": AUTH_SERVICE,
    "description": "authserver itself: organizations, members and invitations",
    "permissions": [
        {"resource": "org", "action": "manage", "description": "Rename or delete the organization"},
        {"resource": "member", "action": "manage", "description": "Add, change and remove members"},
        {"resource": "member", "action": "invite", "description": "Invite people"},
        {"resource": "member", "action": "read", "description": "See the members"},
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
                "audit:read",
            ],
        },
        {
            "name": "admin",
            "description": "Manages members and invitations",
            "permissions": ["member:manage", "member:invite", "member:read", "audit:read"],
        },
        {"name": "member", "description": "A member", "permissions": ["member:read"]},
    ],
}
