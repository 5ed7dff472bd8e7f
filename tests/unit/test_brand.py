"""AUTHSERVER_BRAND_*: read once, refused with the setting named when a page could not use it."""

from __future__ import annotations

import pytest

from authserver.config import ConfigError, Settings
from authserver.pages.brand import Brand, contrast_with_white

BASE = {"AUTHSERVER_DATABASE_URL": "sqlite:////tmp/brand-test.db"}


def brand_from(**values: str) -> Brand:
    environ = {**BASE, **{f"AUTHSERVER_BRAND_{k.upper()}": v for k, v in values.items()}}
    return Settings.from_env(environ).brand


def test_an_unbranded_deployment_is_called_authserver() -> None:
    assert brand_from() == Brand()


def test_every_brand_setting_is_read() -> None:
    brand = brand_from(
        name="Acme ID",
        logo_uri="/static/acme.svg",
        accent="#7A1FA2",
        support_uri="https://help.acme.example/",
        privacy_uri="https://acme.example/privacy",
        terms_uri="https://acme.example/terms",
    )
    assert brand == Brand(
        name="Acme ID",
        logo_uri="/static/acme.svg",
        accent="#7a1fa2",
        support_uri="https://help.acme.example/",
        privacy_uri="https://acme.example/privacy",
        terms_uri="https://acme.example/terms",
    )


@pytest.mark.parametrize(
    ("values", "setting", "words"),
    [
        ({"accent": "purple"}, "BRAND_ACCENT", "#rrggbb"),
        ({"accent": "#ffd700"}, "BRAND_ACCENT", "too light"),  # gold: 1.4:1 with white
        ({"name": "A" * 61}, "BRAND_NAME", "at most 60"),
        ({"name": "Acme\nID"}, "BRAND_NAME", "printable"),
        ({"logo_uri": "http://acme.example/logo.svg"}, "BRAND_LOGO_URI", "https"),
        ({"logo_uri": "//acme.example/logo.svg"}, "BRAND_LOGO_URI", "https"),
        ({"logo_uri": "/\\acme.example/logo.svg"}, "BRAND_LOGO_URI", "https"),
        ({"privacy_uri": "javascript:alert(1)"}, "BRAND_PRIVACY_URI", "https"),
        ({"terms_uri": "mailto:legal@acme.example"}, "BRAND_TERMS_URI", "https"),
        ({"support_uri": "https://acme.example/a b"}, "BRAND_SUPPORT_URI", "no spaces"),
    ],
)
def test_a_brand_setting_a_page_could_not_use_is_refused(
    values: dict[str, str], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=f"AUTHSERVER_{setting}: .*{words}"):
        brand_from(**values)


def test_a_support_address_may_be_mail() -> None:
    assert (
        brand_from(support_uri="mailto:help@acme.example").support_uri == "mailto:help@acme.example"
    )


@pytest.mark.parametrize(
    ("colour", "ratio"), [("#ffffff", 1.0), ("#000000", 21.0), ("#767676", 4.54)]
)
def test_contrast_is_measured_as_wcag_defines_it(colour: str, ratio: float) -> None:
    assert contrast_with_white(colour) == pytest.approx(ratio, abs=0.01)
