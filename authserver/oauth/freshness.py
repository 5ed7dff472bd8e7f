"""How fresh a sign-in an authorization request asks for: `prompt=login` and `max_age`.

OIDC Core §3.1.2.1: `prompt=login` asks for a new authentication; `max_age` bounds the time
since the last one, counted when the request was made (not when the person finally presses
Allow on the consent page). A sign-in made for this request satisfies both, `max_age=0`
included. Pure rules: plain arguments, no app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Freshness:
    """What one request asks: a new authentication (`prompt=login`), a bound on its age
    (`max_age`), and when the request was made."""

    requested_at: datetime
    prompt_login: bool = False
    max_age: int | None = None

    @property
    def asks_reauthentication(self) -> bool:
        return self.prompt_login or self.max_age is not None

    def not_before(self) -> datetime | None:
        """The earliest auth_time the request accepts, or None when any will do."""
        bounds = []
        if self.prompt_login:
            bounds.append(self.requested_at)
        if self.max_age is not None:
            bounds.append(self.requested_at - timedelta(seconds=self.max_age))
        return max(bounds) if bounds else None

    def is_satisfied_by(self, auth_time: datetime) -> bool:
        not_before = self.not_before()
        return not_before is None or auth_time >= not_before


def asked_by(params: Mapping[str, str], requested_at: datetime) -> Freshness:
    """Read from a validated request (oauth/checks.py has checked prompt and max_age)."""
    max_age = params.get("max_age")
    return Freshness(
        requested_at=requested_at,
        prompt_login="login" in (params.get("prompt") or "").split(),
        max_age=int(max_age) if max_age is not None else None,
    )
