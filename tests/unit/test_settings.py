"""Settings.from_env: defaults, parsing, and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from authserver import create_app
from authserver.config import ConfigError, Settings
from authserver.extensions import db

PRODUCTION_OK = {
    "AUTHSERVER_ENV": "production",
    "AUTHSERVER_ISSUER": "https://auth.example.com",
    "AUTHSERVER_DATABASE_URL": "postgresql://auth@db.example.com/auth",
    "AUTHSERVER_SECRET_KEY": "s" * 40,
}


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"AUTHSERVER_INSTANCE_DIR": str(tmp_path / "instance")}


def test_defaults_give_a_laptop_server_on_sqlite(base_env: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.from_env(base_env)
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'authserver.db'}"
    assert settings.env == "development"
    assert settings.code_ttl == 60
    assert settings.refresh_grace_period == 30
    assert settings.cookie_secure is False
    assert settings.password_login is True


def test_development_secret_key_is_made_once_and_kept_private(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    first = Settings.from_env(base_env).secret_key
    second = Settings.from_env(base_env).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_settings_are_accepted_and_secure_by_default() -> None:
    settings = Settings.from_env(PRODUCTION_OK)
    assert settings.is_production
    assert settings.cookie_secure is True
    assert settings.session_cookie_name.startswith("__Host-")
    assert settings.database_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg", "postgresql+psycopg2"])
def test_postgresql_urls_use_psycopg_3(base_env: dict[str, str], scheme: str) -> None:
    env = {**base_env, "AUTHSERVER_DATABASE_URL": f"{scheme}://auth:pw@db.example.com/auth"}
    url = Settings.from_env(env).database_url
    assert url == "postgresql+psycopg://auth:pw@db.example.com/auth"


@pytest.mark.parametrize(
    ("pool_size", "expected"),
    [("", (5, 10)), ("0", (5, 10)), ("8", (8, 0)), ("1", (1, 0))],
)
def test_the_database_pool_holds_the_configured_connections_without_overflow(
    base_env: dict[str, str], tmp_path: Path, pool_size: str, expected: tuple[int, int]
) -> None:
    """gunicorn.conf.py sets the size to the worker's threads; 0 is SQLAlchemy's default."""
    settings = Settings.from_env(
        {
            **base_env,
            "AUTHSERVER_DATABASE_URL": "postgresql://auth@127.0.0.1:1/auth",  # never connected
            "AUTHSERVER_KEYS_DIR": str(tmp_path / "keys"),
            "AUTHSERVER_DATABASE_POOL_SIZE": pool_size,
        }
    )
    with create_app(settings).app_context():
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == expected


def test_issuer_loses_its_trailing_slash(base_env: dict[str, str]) -> None:
    env = {**base_env, "AUTHSERVER_ISSUER": "https://auth.example.com/tenant/"}
    assert Settings.from_env(env).issuer == "https://auth.example.com/tenant"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("600", 600), ("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400)],
)
def test_durations_accept_units(base_env: dict[str, str], value: str, expected: int) -> None:
    env = {**base_env, "AUTHSERVER_ACCESS_TOKEN_TTL": value}
    assert Settings.from_env(env).access_token_ttl == expected


def test_grace_period_zero_turns_it_off(base_env: dict[str, str]) -> None:
    env = {**base_env, "AUTHSERVER_REFRESH_GRACE_PERIOD": "0"}
    assert Settings.from_env(env).refresh_grace_period == 0


BAD_VALUES = [
    ({"AUTHSERVER_ISSUER": "auth.example.com"}, "AUTHSERVER_ISSUER", "absolute"),
    ({"AUTHSERVER_ISSUER": "ftp://auth.example.com"}, "AUTHSERVER_ISSUER", "absolute"),
    ({"AUTHSERVER_ISSUER": "https://auth.example.com/?x=1"}, "AUTHSERVER_ISSUER", "query"),
    ({"AUTHSERVER_ISSUER": "https://auth.example.com/#top"}, "AUTHSERVER_ISSUER", "fragment"),
    ({"AUTHSERVER_ISSUER": "https://u:p@auth.example.com"}, "AUTHSERVER_ISSUER", "credentials"),
    ({"AUTHSERVER_ENV": "staging"}, "AUTHSERVER_ENV", "one of"),
    ({"AUTHSERVER_DATABASE_URL": "not a url"}, "AUTHSERVER_DATABASE_URL", "not a database"),
    ({"AUTHSERVER_DATABASE_URL": "mysql://x@y/z"}, "AUTHSERVER_DATABASE_URL", "sqlite or"),
    (
        {"AUTHSERVER_DATABASE_URL": "postgresql+asyncpg://x@y/z"},
        "AUTHSERVER_DATABASE_URL",
        "psycopg (3)",
    ),
    ({"AUTHSERVER_DATABASE_URL": "sqlite://"}, "AUTHSERVER_DATABASE_URL", "file"),
    ({"AUTHSERVER_SECRET_KEY": "short"}, "AUTHSERVER_SECRET_KEY", "at least 32"),
    ({"AUTHSERVER_REDIS_URL": "http://cache"}, "AUTHSERVER_REDIS_URL", "redis://"),
    ({"AUTHSERVER_PASSWORD_LOGIN": "maybe"}, "AUTHSERVER_PASSWORD_LOGIN", "on or off"),
    ({"AUTHSERVER_COOKIE_SECURE": "2"}, "AUTHSERVER_COOKIE_SECURE", "on or off"),
    ({"AUTHSERVER_CODE_TTL": "10 minutes"}, "AUTHSERVER_CODE_TTL", "duration"),
    ({"AUTHSERVER_CODE_TTL": "1h"}, "AUTHSERVER_CODE_TTL", "between 10 and 600"),
    ({"AUTHSERVER_ACCESS_TOKEN_TTL": "-5"}, "AUTHSERVER_ACCESS_TOKEN_TTL", "duration"),
    ({"AUTHSERVER_REFRESH_GRACE_PERIOD": "1d"}, "AUTHSERVER_REFRESH_GRACE_PERIOD", "between"),
    (
        {"AUTHSERVER_CLIENT_JWKS_REFETCH_INTERVAL": "0"},
        "AUTHSERVER_CLIENT_JWKS_REFETCH_INTERVAL",
        "between 1 and 300",
    ),
    ({"AUTHSERVER_DATABASE_POOL_SIZE": "-1"}, "AUTHSERVER_DATABASE_POOL_SIZE", "whole number"),
    ({"AUTHSERVER_DATABASE_POOL_SIZE": "eight"}, "AUTHSERVER_DATABASE_POOL_SIZE", "0 to 100"),
    ({"AUTHSERVER_DATABASE_POOL_SIZE": "101"}, "AUTHSERVER_DATABASE_POOL_SIZE", "0 to 100"),
    ({"AUTHSERVER_GOOGLE_CLIENT_ID": "abc"}, "AUTHSERVER_GOOGLE_CLIENT_SECRET", "must be set"),
    ({"AUTHSERVER_GOOGLE_CLIENT_SECRET": "abc"}, "AUTHSERVER_GOOGLE_CLIENT_ID", "must be set"),
    (
        {
            "AUTHSERVER_REFRESH_TOKEN_IDLE_TTL": "60d",
            "AUTHSERVER_REFRESH_TOKEN_ABSOLUTE_TTL": "30d",
        },
        "AUTHSERVER_REFRESH_TOKEN_IDLE_TTL",
        "not be longer",
    ),
    (
        {"AUTHSERVER_SESSION_IDLE_TTL": "30d", "AUTHSERVER_SESSION_ABSOLUTE_TTL": "7d"},
        "AUTHSERVER_SESSION_IDLE_TTL",
        "not be longer",
    ),
    (
        {"AUTHSERVER_COOKIE_SECURE": "on", "AUTHSERVER_ISSUER": "http://auth.example.com"},
        "AUTHSERVER_COOKIE_SECURE",
        "https",
    ),
]


@pytest.mark.parametrize(("overrides", "setting", "words"), BAD_VALUES)
def test_a_bad_value_names_its_setting_in_one_line(
    base_env: dict[str, str], overrides: dict[str, str], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**base_env, **overrides})
    message = str(raised.value)
    assert message.startswith(f"{setting}: ")
    assert words in message
    assert "\n" not in message


PRODUCTION_ERRORS = [
    ({"AUTHSERVER_ISSUER": "http://auth.example.com"}, "AUTHSERVER_ISSUER", "https"),
    ({"AUTHSERVER_ISSUER": ""}, "AUTHSERVER_ISSUER", "must be set"),
    ({"AUTHSERVER_SECRET_KEY": ""}, "AUTHSERVER_SECRET_KEY", "must be set"),
    (
        {"AUTHSERVER_DATABASE_URL": "sqlite:////srv/auth.db"},
        "AUTHSERVER_DATABASE_URL",
        "PostgreSQL",
    ),
]


@pytest.mark.parametrize(("overrides", "setting", "words"), PRODUCTION_ERRORS)
def test_production_refuses_unsafe_settings(
    overrides: dict[str, str], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**PRODUCTION_OK, **overrides})
    assert str(raised.value).startswith(f"{setting}: ")
    assert words in str(raised.value)


def test_production_allows_plain_http_on_loopback() -> None:
    settings = Settings.from_env({**PRODUCTION_OK, "AUTHSERVER_ISSUER": "http://127.0.0.1:8000"})
    assert settings.issuer == "http://127.0.0.1:8000"


def test_as_dict_hides_secrets() -> None:
    shown = Settings.from_env(
        {
            **PRODUCTION_OK,
            "AUTHSERVER_GOOGLE_CLIENT_ID": "id",
            "AUTHSERVER_GOOGLE_CLIENT_SECRET": "gs",
        }
    ).as_dict()
    assert shown["secret_key"] == "***"
    assert shown["upstreams"][0]["client_secret"] == "***"
    assert "s" * 40 not in repr(shown) and "'gs'" not in repr(shown)


def test_google_is_a_preset_of_a_generic_upstream(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(
        {
            **base_env,
            "AUTHSERVER_GOOGLE_CLIENT_ID": "gid",
            "AUTHSERVER_GOOGLE_CLIENT_SECRET": "gsecret",
            "AUTHSERVER_GOOGLE_HOSTED_DOMAINS": "Example.com, example.org",
            "AUTHSERVER_UPSTREAMS": "okta",
            "AUTHSERVER_UPSTREAM_OKTA_ISSUER": "https://corp.okta.com/",
            "AUTHSERVER_UPSTREAM_OKTA_CLIENT_ID": "oid",
            "AUTHSERVER_UPSTREAM_OKTA_CLIENT_SECRET": "osecret",
            "AUTHSERVER_UPSTREAM_OKTA_DISPLAY_NAME": "Corporate SSO",
        }
    )
    google, okta = settings.upstreams
    assert (google.name, google.issuer) == ("google", "https://accounts.google.com")
    assert google.hosted_domains == ("example.com", "example.org")
    assert (okta.name, okta.display_name, okta.issuer) == (
        "okta",
        "Corporate SSO",
        "https://corp.okta.com",
    )


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"AUTHSERVER_UPSTREAMS": "Bad-Name"}, "AUTHSERVER_UPSTREAMS"),
        ({"AUTHSERVER_UPSTREAMS": "okta"}, "AUTHSERVER_UPSTREAM_OKTA_ISSUER"),
        (
            {
                "AUTHSERVER_UPSTREAMS": "okta",
                "AUTHSERVER_UPSTREAM_OKTA_ISSUER": "https://x.example",
            },
            "AUTHSERVER_UPSTREAM_OKTA_CLIENT_ID",
        ),
        (
            {"AUTHSERVER_UPSTREAMS": "okta", "AUTHSERVER_UPSTREAM_OKTA_ISSUER": "okta.com"},
            "AUTHSERVER_UPSTREAM_OKTA_ISSUER",
        ),
        (
            {
                "AUTHSERVER_GOOGLE_CLIENT_ID": "a",
                "AUTHSERVER_GOOGLE_CLIENT_SECRET": "b",
                "AUTHSERVER_GOOGLE_HOSTED_DOMAINS": "not a domain",
            },
            "AUTHSERVER_GOOGLE_HOSTED_DOMAINS",
        ),
    ],
    ids=["bad-name", "no-issuer", "no-client-id", "relative-issuer", "bad-domain"],
)
def test_a_bad_upstream_names_its_setting(
    base_env: dict[str, str], overrides: dict[str, str], setting: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**base_env, **overrides})
    assert str(raised.value).startswith(f"{setting}: ")
