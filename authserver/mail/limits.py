"""How often one address may be mailed on request: a stranger cannot mail-bomb it.

Over the limit, the flow answers exactly as before but queues nothing, so the counter
reveals nothing and spends nobody's sign-in: the links already sent keep working.
"""

from __future__ import annotations

from authserver import ratelimits
from authserver.models import User
from authserver.models.users import normalize_email

# Requested mails (verification, reset, sign-up, email change) per address.
PER_ADDRESS = "5 per hour"
# The same, per IP, on every endpoint that sends mail (a 429 page: the caller's own limit).
PER_IP = "10 per hour"


def may_mail(address: str, owner: User | None = None) -> bool:
    """Count one requested mail to the address; False once it is over PER_ADDRESS.

    `owner` is the person the address belongs to, when there is one. Their own requests (a
    browser signed in as them, or one that signed in as them before: its device cookie)
    have an allowance of their own, so a stranger who spends the address's allowance with
    five requests an hour cannot keep the owner from resetting a password or confirming
    the address (security review)."""
    key = normalize_email(address)
    who = "owner" if owner is not None and _is_owner_asking(owner) else "anyone"
    return not ratelimits.reserve(PER_ADDRESS, "mail-address", who, key)


def _is_owner_asking(owner: User) -> bool:
    from authserver.identity import sessions, throttle  # identity imports this module

    session = sessions.current()
    return (session is not None and session.user_id == owner.id) or throttle.is_trusted_for(owner)
