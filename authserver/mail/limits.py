"""How often one address may be mailed on request: a stranger cannot mail-bomb it.

Over the limit, the flow answers exactly as before but queues nothing, so the counter
reveals nothing and spends nobody's sign-in: the links already sent keep working.
"""

from __future__ import annotations

from limits import parse

from authserver.extensions import limiter
from authserver.models.users import normalize_email

# Requested mails (verification, reset, sign-up, email change) per address.
PER_ADDRESS = parse("5/hour")
# The same, per IP, on every endpoint that sends mail (a 429 page: the caller's own limit).
PER_IP = "10 per hour"


def may_mail(address: str) -> bool:
    """Count one requested mail to the address; False once it is over PER_ADDRESS."""
    key = normalize_email(address)
    return limiter.limiter.hit(PER_ADDRESS, "mail-address", key)
