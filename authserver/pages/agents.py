"""A browser in words ("Chrome on Linux") from its User-Agent, by uap-core's rules (ua-parser)."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=1024)
def describe_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser, system), each None when the rules do not know it. Parsed once per string:
    the account page lists a person's few sessions, and the strings repeat."""
    if not user_agent:
        return None, None
    result = parse(user_agent[:1000])
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    return _known(browser), _known(system)


def _known(family: str | None) -> str | None:
    return None if family in (None, "", "Other") else family
