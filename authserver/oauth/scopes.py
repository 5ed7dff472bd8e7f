"""The scopes this server knows, each with the plain words a person reads on the consent page."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (gettext's name for it)
    """Marks a message for the catalog (pybabel -k N_) without translating it here: the
    English stays the value (OpenAPI, discovery); pages translate it where they show it."""
    return message


SCOPES: dict[str, str] = {
    "openid": N_("Sign you in with your account"),
    "profile": N_("See your name and profile picture"),
    "email": N_("See your email address"),
    "offline_access": N_("Stay signed in when you are not using the app"),
    "orgs": N_(
        "See the organizations you belong to, your roles in them, and what your roles "
        "let you see there (members, invitations, audit log)"
    ),
    "orgs:write": N_(
        "Change your organizations in your name: create, rename and delete them, "
        "add and remove members, change their roles, and send or answer invitations"
    ),
    "services:sync": N_("Publish its service's permissions and roles (services only)"),
}

# Scopes a person may grant; the rest belong to service clients (client_credentials).
USER_SCOPES = frozenset({"openid", "profile", "email", "offline_access", "orgs", "orgs:write"})
SERVICE_SCOPES = frozenset({"services:sync"})
