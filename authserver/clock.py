"""utcnow(): the one source of time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, shifted by the test clock if one moved it."""
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    """Move time forward (tests only: there is no route or command that calls this)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
