"""decide(): does this person need to approve these scopes for this client? A pure rule."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    FIRST_PARTY = "first_party"
    REMEMBERED = "remembered"
    ASK = "ask"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    new_scopes: frozenset[str] = frozenset()

    @property
    def must_ask(self) -> bool:
        return self.outcome is Outcome.ASK


def decide(
    *,
    is_first_party: bool,
    requested: Collection[str],
    approved: Collection[str],
    forced: bool = False,
) -> Decision:
    """First-party clients are not asked; others are asked for scopes not yet approved,
    and always when the client says prompt=consent."""
    new_scopes = frozenset(requested) - frozenset(approved)
    if is_first_party and not forced:
        return Decision(Outcome.FIRST_PARTY)
    if forced or new_scopes:
        return Decision(Outcome.ASK, new_scopes)
    return Decision(Outcome.REMEMBERED)
