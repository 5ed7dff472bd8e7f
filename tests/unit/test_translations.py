"""The catalogs: every message of the hosted pages has a German translation, kept compiled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from authserver.config import PROJECT_ROOT
from authserver.pages.language import DEFAULT_LOCALE, SUPPORTED_LOCALES

TRANSLATIONS = PROJECT_ROOT / "translations"
TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != DEFAULT_LOCALE]
# As babel.cfg says; the admin console and the mail stay English.
METHOD_MAP = [
    ("authserver/admin/**", "ignore"),
    ("authserver/**.py", "python"),
    ("templates/admin/**", "ignore"),
    ("templates/mail/**", "ignore"),
    ("templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def source_messages() -> set[str | tuple[str, ...]]:
    """Every message the code and the templates mark, extracted now (not the .pot on disk)."""
    found = set()
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, METHOD_MAP, options_map=options, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def catalog(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def test_the_pages_mark_hundreds_of_messages() -> None:
    # A broken extraction (a wrong method map) would find nothing, and everything below pass.
    assert len(source_messages()) > 200


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_in_the_source_has_a_translation(locale: str) -> None:
    translated = catalog(locale)
    untranslated = []
    for message in source_messages():
        key = message[0] if isinstance(message, tuple) else message
        entry = translated.get(key)
        strings = entry.string if entry is not None else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(strings):
            untranslated.append(key)
    assert untranslated == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_translation_keeps_its_placeholders(locale: str) -> None:
    # Babel's checkers: python-format placeholders and plural forms match the source.
    problems = [(message.id, errors) for message, errors in catalog(locale).check() if errors]
    assert problems == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(locale: str) -> None:
    # The app reads the .mo: `make translations` must have run after the .po changed.
    mo_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    compiled = io.BytesIO()
    write_mo(compiled, catalog(locale))
    with Path(mo_path).open("rb") as committed:
        assert _entries(read_mo(committed)) == _entries(read_mo(io.BytesIO(compiled.getvalue())))


def _entries(mo: Catalog) -> dict[object, object]:
    frozen = lambda value: tuple(value) if isinstance(value, list | tuple) else value  # noqa: E731
    return {frozen(message.id): frozen(message.string) for message in mo if message.id}
