"""The deployment's brand (AUTHSERVER_BRAND_*): name, logo, accent colour, links; read once."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

ACCENT_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
# WCAG 2.2 SC 1.4.3: white button text on the accent, and the accent as link text on white,
# need a contrast ratio of at least 4.5:1.
MIN_CONTRAST = 4.5
MAX_NAME_LENGTH = 60
MAX_URI_LENGTH = 2000


class BrandError(ValueError):
    """A brand setting is invalid; `setting` names it (without the AUTHSERVER_ prefix)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(problem)
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class Brand:
    """What every hosted page and every mail shows of the deployment."""

    name: str = "authserver"
    logo_uri: str | None = None
    accent: str = "#0b57d0"
    support_uri: str | None = None
    privacy_uri: str | None = None
    terms_uri: str | None = None


def read_brand(read: Callable[[str], str | None]) -> Brand:
    """`read(name)` gives AUTHSERVER_<name>, stripped, or None when unset or empty."""
    name = read("BRAND_NAME") or Brand.name
    if len(name) > MAX_NAME_LENGTH or any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise BrandError("BRAND_NAME", f"must be at most {MAX_NAME_LENGTH} printable characters")
    accent = read("BRAND_ACCENT") or Brand.accent
    if not ACCENT_PATTERN.fullmatch(accent):
        raise BrandError("BRAND_ACCENT", f"must be a colour as #rrggbb (got {accent!r})")
    if contrast_with_white(accent) < MIN_CONTRAST:
        raise BrandError(
            "BRAND_ACCENT",
            f"{accent} is too light: white text on it needs a contrast of {MIN_CONTRAST}:1",
        )
    return Brand(
        name=name,
        logo_uri=_read_uri(read, "BRAND_LOGO_URI", allow_path=True),
        accent=accent.lower(),
        support_uri=_read_uri(read, "BRAND_SUPPORT_URI", allow_mailto=True),
        privacy_uri=_read_uri(read, "BRAND_PRIVACY_URI"),
        terms_uri=_read_uri(read, "BRAND_TERMS_URI"),
    )


def _read_uri(
    read: Callable[[str], str | None],
    setting: str,
    *,
    allow_path: bool = False,
    allow_mailto: bool = False,
) -> str | None:
    """An https URL; a logo may also be a path on this server (/static/...), a support link
    a mailto: address. Nothing else reaches an href or src of ours."""
    value = read(setting)
    if value is None:
        return None
    if len(value) > MAX_URI_LENGTH or any(ord(char) <= 32 or ord(char) == 127 for char in value):
        raise BrandError(setting, f"must be at most {MAX_URI_LENGTH} characters, no spaces")
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    # A path of ours; "//host" and "/\\host" would be another site to a browser.
    if allow_path and value.startswith("/") and value[1:2] not in ("/", "\\"):
        return value
    if allow_mailto and parts.scheme == "mailto" and "@" in parts.path:
        return value
    raise BrandError(setting, f"must be an https URL (got {value!r})")


def contrast_with_white(colour: str) -> float:
    """WCAG 2.2 contrast ratio of `colour` (#rrggbb) against white."""
    return 1.05 / (relative_luminance(colour) + 0.05)


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of an sRGB colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
