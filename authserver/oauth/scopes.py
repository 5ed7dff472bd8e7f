"""The scopes this server knows, each with the plain words a person reads on the consent page."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "openid": "Sign you in with your authserver account",
    "profile": "See your name and profile picture",
    "email": "See your email address",
    "offline_access": "Stay signed in when you are not using the app",
    "orgs": (
        "See the organizations you belong to, your roles in them, and what your roles "
        "let you see there (members, invitations, audit log)"
    ),
    "orgs:write": (
        "Change your organizations in your name: create, rename and delete them, "
        "add and remove members, change their roles, and send or answer invitations"
    ),
    "services:sync": "Publish its service's permissions and roles (services only)",
}

# Scopes a person may grant; the rest belong to service clients (client_credentials).
USER_SCOPES = frozenset({"openid", "profile", "email", "offline_access", "orgs", "orgs:write"})
SERVICE_SCOPES = frozenset({"services:sync"})
