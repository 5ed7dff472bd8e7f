"""Which language a page speaks: OIDC `ui_locales`, then Accept-Language, then English."""

from __future__ import annotations

from babel import negotiate_locale
from flask import request

from authserver.pages.asking import asking_request

# Every language with a complete catalog under translations/ (tests/pages/test_translations.py).
SUPPORTED_LOCALES = ("en", "de")
DEFAULT_LOCALE = "en"


def choose_locale() -> str:
    """OIDC Core §3.1.2.1: ui_locales is a space-separated list of BCP 47 tags, most
    preferred first; it is read from this request, or from the parked /authorize request
    the page belongs to. Without a match, the browser's Accept-Language decides."""
    for ui_locales in (request.args.get("ui_locales"), _parked_ui_locales()):
        if ui_locales:
            chosen = negotiate_locale(ui_locales.split()[:10], SUPPORTED_LOCALES, sep="-")
            if chosen:
                return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def _parked_ui_locales() -> str | None:
    parked = asking_request()
    return parked.params.get("ui_locales") if parked else None
