"""Settings.from_env(): every AUTHSERVER_* variable, validated once, frozen."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from authserver.numbers import parse_ascii_int
from authserver.pages.brand import Brand, BrandError, read_brand

PREFIX = "AUTHSERVER_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SUPPORTED_DATABASES = ("sqlite", "postgresql")
POSTGRESQL_DRIVERS = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2")
_DURATION = re.compile(r"^([0-9]{1,18})([smhd]?)$")  # ASCII digits only (authserver/numbers.py)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line naming it."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{PREFIX}{setting}: {problem}")
        self.setting = f"{PREFIX}{setting}"


@dataclass(frozen=True)
class Duration:
    """Bounds for a lifetime setting, in seconds."""

    default: int
    minimum: int
    maximum: int


# Lifetimes in seconds. Bounds keep a typo ("600d" for a code) from weakening a rule.
DURATIONS: dict[str, Duration] = {
    "CODE_TTL": Duration(60, 10, 600),
    "ACCESS_TOKEN_TTL": Duration(600, 60, 86400),
    "ID_TOKEN_TTL": Duration(600, 60, 86400),
    "REFRESH_TOKEN_IDLE_TTL": Duration(14 * 86400, 300, 365 * 86400),
    "REFRESH_TOKEN_ABSOLUTE_TTL": Duration(30 * 86400, 300, 365 * 86400),
    "REFRESH_GRACE_PERIOD": Duration(30, 0, 300),
    "SESSION_IDLE_TTL": Duration(2 * 86400, 300, 90 * 86400),
    "SESSION_ABSOLUTE_TTL": Duration(14 * 86400, 300, 365 * 86400),
    "INVITATION_TTL": Duration(7 * 86400, 3600, 90 * 86400),
    "JWKS_MAX_AGE": Duration(300, 0, 86400),
    "KEY_RELOAD_INTERVAL": Duration(1, 0, 300),
    "CLIENT_CACHE_TTL": Duration(5, 0, 60),
    # RFC 9449 §11.1: how old a DPoP proof's `iat` may be (its jti is remembered this long).
    "DPOP_PROOF_MAX_AGE": Duration(60, 5, 600),
    # How recent an operator's sign-in must be to use /admin (re-authentication after).
    "ADMIN_MAX_AGE": Duration(900, 60, 86400),
    "EMAIL_VERIFICATION_TTL": Duration(2 * 86400, 600, 30 * 86400),
    "PASSWORD_RESET_TTL": Duration(3600, 300, 86400),
    # RFC 8628 §3.2: how long a device and user code live; RFC 9126 §2.2: a request_uri
    # lives a short time (the RFC's example is 60 s).
    "DEVICE_CODE_TTL": Duration(600, 60, 1800),
    "PAR_TTL": Duration(60, 10, 600),
    # How long a fetched jwks_uri is reused before it is fetched again (private_key_jwt).
    "CLIENT_JWKS_CACHE_TTL": Duration(300, 0, 86400),
    # How soon a jwks_uri may be fetched again for a kid its kept keys lack, or after a
    # fetch of it failed (never 0: a stranger's assertions with made-up kids, or a client's
    # assertions while its jwks_uri is down, would each cost a fetch).
    "CLIENT_JWKS_REFETCH_INTERVAL": Duration(5, 1, 300),
}

SMTP_SECURITY = ("starttls", "tls", "none")
# The port each security mode usually listens on (RFC 8314 §3.3: 465 is implicit TLS).
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


GOOGLE_ISSUER = "https://accounts.google.com"
_UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


@dataclass(frozen=True)
class Upstream:
    """An upstream OpenID provider people can sign in with (Google is a preset of this)."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str
    hosted_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Smtp:
    """Where mail goes: an SMTP relay (transport.py speaks to it)."""

    host: str
    port: int
    security: str
    user: str | None = None
    password: str | None = None
    # Trust this CA bundle instead of the system's (a relay with a private CA).
    ca_file: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, checked once at start-up."""

    issuer: str = "http://127.0.0.1:8000"
    database_url: str = ""
    keys_dir: Path = PROJECT_ROOT / "keys"
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    secret_key: str = ""
    env: str = "development"
    redis_url: str | None = None
    upstreams: tuple[Upstream, ...] = ()
    password_login: bool = True
    demo: bool = False
    cookie_secure: bool = False
    log_format: str = "json"
    token_rate_limit: str | None = "6000/minute"
    trusted_proxies: int = 0
    metrics: bool = False
    database_pool_size: int = 0
    code_ttl: int = DURATIONS["CODE_TTL"].default
    access_token_ttl: int = DURATIONS["ACCESS_TOKEN_TTL"].default
    id_token_ttl: int = DURATIONS["ID_TOKEN_TTL"].default
    refresh_token_idle_ttl: int = DURATIONS["REFRESH_TOKEN_IDLE_TTL"].default
    refresh_token_absolute_ttl: int = DURATIONS["REFRESH_TOKEN_ABSOLUTE_TTL"].default
    refresh_grace_period: int = DURATIONS["REFRESH_GRACE_PERIOD"].default
    session_idle_ttl: int = DURATIONS["SESSION_IDLE_TTL"].default
    session_absolute_ttl: int = DURATIONS["SESSION_ABSOLUTE_TTL"].default
    invitation_ttl: int = DURATIONS["INVITATION_TTL"].default
    jwks_max_age: int = DURATIONS["JWKS_MAX_AGE"].default
    key_reload_interval: int = DURATIONS["KEY_RELOAD_INTERVAL"].default
    client_cache_ttl: int = DURATIONS["CLIENT_CACHE_TTL"].default
    dpop_proof_max_age: int = DURATIONS["DPOP_PROOF_MAX_AGE"].default
    dpop_nonce: bool = False  # RFC 9449 §8: require a server-issued nonce in DPoP proofs
    admin_max_age: int = DURATIONS["ADMIN_MAX_AGE"].default
    email_verification_ttl: int = DURATIONS["EMAIL_VERIFICATION_TTL"].default
    password_reset_ttl: int = DURATIONS["PASSWORD_RESET_TTL"].default
    smtp: Smtp | None = None
    mail_from: str = "authserver@localhost"
    signup: bool = False
    signup_domains: tuple[str, ...] = ()
    device_code_ttl: int = DURATIONS["DEVICE_CODE_TTL"].default
    par_ttl: int = DURATIONS["PAR_TTL"].default
    client_jwks_cache_ttl: int = DURATIONS["CLIENT_JWKS_CACHE_TTL"].default
    client_jwks_refetch_interval: int = DURATIONS["CLIENT_JWKS_REFETCH_INTERVAL"].default
    require_pushed_authorization_requests: bool = False
    brand: Brand = Brand()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix needs Secure, so it is only used when the cookie is Secure.
        return "__Host-authserver" if self.cookie_secure else "authserver_session"

    @property
    def mail_enabled(self) -> bool:
        """Mail can reach people: an SMTP relay, or the development log (docs/mail.md).
        Production without SMTP sends nothing, so the flows that need mail are hidden."""
        return self.smtp is not None or not self.is_production

    @property
    def max_token_ttl(self) -> int:
        """How long a signature may need to verify: a retired key stays published this long."""
        return max(self.access_token_ttl, self.id_token_ttl)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every AUTHSERVER_* variable; raise ConfigError on the first bad one."""
        env = _read_choice(environ, "ENV", ("development", "production"), "development")
        production = env == "production"
        instance_dir = Path(_read(environ, "INSTANCE_DIR") or DEFAULT_INSTANCE_DIR).resolve()
        values: dict[str, Any] = {
            "env": env,
            "instance_dir": instance_dir,
            "issuer": _read_issuer(environ, production),
            "database_url": _read_database_url(environ, instance_dir),
            "keys_dir": Path(_read(environ, "KEYS_DIR") or PROJECT_ROOT / "keys").resolve(),
            "secret_key": _read_secret_key(environ, production, instance_dir),
            "redis_url": _read_redis_url(environ),
            "password_login": _read_bool(environ, "PASSWORD_LOGIN", True),
            "demo": _read_bool(environ, "DEMO", False),
            "cookie_secure": _read_bool(environ, "COOKIE_SECURE", production),
            "log_format": _read_choice(environ, "LOG_FORMAT", ("json", "text"), "json"),
            "token_rate_limit": _read_rate_limit(environ, "TOKEN_RATE_LIMIT", "6000/minute"),
            "trusted_proxies": _read_count(environ, "TRUSTED_PROXIES", maximum=5),
            "metrics": _read_bool(environ, "METRICS", False),
            "dpop_nonce": _read_bool(environ, "DPOP_NONCE", False),
            # 0: SQLAlchemy's default pool; gunicorn.conf.py sets it to the worker's threads.
            "database_pool_size": _read_count(environ, "DATABASE_POOL_SIZE", maximum=100),
            "require_pushed_authorization_requests": _read_bool(environ, "REQUIRE_PAR", False),
        }
        values["upstreams"] = _read_upstreams(environ, production)
        values["smtp"] = _read_smtp(environ)
        values["mail_from"] = _read_mail_from(environ, values["issuer"])
        values["signup"], values["signup_domains"] = _read_signup(environ)
        values["brand"] = _read_brand(environ)
        for name, bounds in DURATIONS.items():
            values[name.lower()] = _read_duration(environ, name, bounds)
        settings = cls(**values)
        _check_consistency(settings)
        return settings

    def as_dict(self) -> dict[str, Any]:
        """The settings without secrets, for `authserver config` and logs."""
        shown = {
            f.name: ("***" if f.name == "secret_key" else getattr(self, f.name))
            for f in fields(self)
        }
        if self.smtp is not None:
            shown["smtp"] = {
                **asdict(self.smtp),
                "password": "***" if self.smtp.password else None,
            }
        shown["upstreams"] = [
            {"name": u.name, "issuer": u.issuer, "client_id": u.client_id, "client_secret": "***"}
            for u in self.upstreams
        ]
        return shown


def _read(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(PREFIX + name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _read_choice(
    environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str
) -> str:
    value = (_read(environ, name) or default).lower()
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)} (got {value!r})")
    return value


def _read_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = _read(environ, name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(name, f"must be on or off (got {value!r})")


def _read_count(environ: Mapping[str, str], name: str, maximum: int) -> int:
    value = _read(environ, name) or "0"
    count = parse_ascii_int(value, maximum=maximum)
    if count is None:
        raise ConfigError(name, f"must be a whole number from 0 to {maximum} (got {value!r})")
    return count


def _read_rate_limit(environ: Mapping[str, str], name: str, default: str) -> str | None:
    """A Flask-Limiter rate such as `6000/minute` or `100/second`; `off` for none."""
    value = _read(environ, name) or default
    if value.lower() in _FALSE:
        return None
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            name, f"must be a rate such as 6000/minute, or off (got {value!r})"
        ) from None
    return value


def _read_duration(environ: Mapping[str, str], name: str, bounds: Duration) -> int:
    value = _read(environ, name)
    if value is None:
        return bounds.default
    match = _DURATION.match(value.lower())
    if match is None:
        raise ConfigError(name, f"must be a duration such as 600, 10m, 12h or 7d (got {value!r})")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not bounds.minimum <= seconds <= bounds.maximum:
        raise ConfigError(
            name,
            f"must be between {bounds.minimum} and {bounds.maximum} seconds (got {seconds})",
        )
    return seconds


def _read_issuer(environ: Mapping[str, str], production: bool) -> str:
    value = _read(environ, "ISSUER")
    if value is None:
        if production:
            raise ConfigError("ISSUER", "must be set in production")
        return Settings.issuer
    return _checked_issuer("ISSUER", value, production)


def _checked_issuer(name: str, value: str, production: bool) -> str:
    """An OpenID issuer, ours or an upstream's (OIDC Discovery §3, RFC 8414 §2): absolute
    http(s), no query, fragment or credentials; https in production except on loopback."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, f"must be an absolute http(s) URL (got {value!r})")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ConfigError(name, "must not have a query or a fragment")
    if parts.username or parts.password:
        raise ConfigError(name, "must not contain credentials")
    if production and parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(name, f"must use https in production (got {value!r})")
    return value.rstrip("/")


def _read_database_url(environ: Mapping[str, str], instance_dir: Path) -> str:
    value = _read(environ, "DATABASE_URL")
    if value is None:
        return f"sqlite:///{instance_dir / 'authserver.db'}"
    try:
        url = make_url(value)
    except ArgumentError:
        raise ConfigError("DATABASE_URL", "is not a database URL") from None
    if url.get_backend_name() not in SUPPORTED_DATABASES:
        supported = " or ".join(SUPPORTED_DATABASES)
        raise ConfigError(
            "DATABASE_URL", f"must be a {supported} URL (got {url.get_backend_name()!r})"
        )
    if url.get_backend_name() == "postgresql":
        if url.drivername not in POSTGRESQL_DRIVERS:
            raise ConfigError("DATABASE_URL", "PostgreSQL URLs use the psycopg (3) driver")
        # We ship psycopg 3. Its server-side prepared statements (after five runs of a query
        # on a connection) spare PostgreSQL the planning of every hot-path query, about a
        # third of its CPU on a refresh (benchmarks/RESULTS.md). A psycopg2 URL from an
        # older configuration is read as psycopg.
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError("DATABASE_URL", "SQLite needs a file: several workers share it")
    return value


def _read_secret_key(environ: Mapping[str, str], production: bool, instance_dir: Path) -> str:
    value = _read(environ, "SECRET_KEY")
    if value is not None:
        if len(value) < 32:
            raise ConfigError("SECRET_KEY", "must be at least 32 characters")
        return value
    if production:
        raise ConfigError("SECRET_KEY", "must be set in production")
    return _development_secret_key(instance_dir)


def _development_secret_key(instance_dir: Path) -> str:
    """A laptop gets a random key kept in instance/, so every worker and restart agrees on it."""
    path = instance_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        instance_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        with open(path, "x", opener=_private_opener) as handle:
            handle.write(value)
        return value
    except FileExistsError:
        return path.read_text().strip()  # another worker wrote it first
    except OSError as error:
        problem = f"is unset and {path} cannot be used ({error.strerror})"
        raise ConfigError("SECRET_KEY", problem) from None
    except UnicodeDecodeError:
        raise ConfigError("SECRET_KEY", f"is unset and {path} is not UTF-8 text") from None


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _read_redis_url(environ: Mapping[str, str]) -> str | None:
    value = _read(environ, "REDIS_URL")
    if value is None:
        return None
    if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL", f"must be a redis:// or rediss:// URL (got {value!r})")
    return value


def _read_upstreams(environ: Mapping[str, str], production: bool) -> tuple[Upstream, ...]:
    """Google first (its preset), then AUTHSERVER_UPSTREAMS=name,... in the order given."""
    upstreams = []
    google = _read_google(environ, production)
    if google is not None:
        upstreams.append(google)
    names = [n.strip() for n in (_read(environ, "UPSTREAMS") or "").split(",") if n.strip()]
    for name in names:
        if not _UPSTREAM_NAME.match(name) or name == "google":
            raise ConfigError("UPSTREAMS", f"{name!r} must be a-z, 0-9 or _ and not 'google'")
        upstreams.append(_read_upstream(environ, name, production))
    return tuple(upstreams)


def _read_google(environ: Mapping[str, str], production: bool) -> Upstream | None:
    client_id = _read(environ, "GOOGLE_CLIENT_ID")
    client_secret = _read(environ, "GOOGLE_CLIENT_SECRET")
    if client_id and not client_secret:
        raise ConfigError("GOOGLE_CLIENT_SECRET", "must be set with GOOGLE_CLIENT_ID")
    if client_secret and not client_id:
        raise ConfigError("GOOGLE_CLIENT_ID", "must be set with GOOGLE_CLIENT_SECRET")
    if not client_id or not client_secret:
        return None
    return Upstream(
        name="google",
        display_name="Google",
        issuer=_read_upstream_issuer(environ, "GOOGLE_ISSUER", production) or GOOGLE_ISSUER,
        client_id=client_id,
        client_secret=client_secret,
        hosted_domains=_read_domains(environ, "GOOGLE_HOSTED_DOMAINS"),
    )


def _read_upstream(environ: Mapping[str, str], name: str, production: bool) -> Upstream:
    prefix = f"UPSTREAM_{name.upper()}_"
    issuer = _read_upstream_issuer(environ, prefix + "ISSUER", production)
    client_id = _read(environ, prefix + "CLIENT_ID")
    client_secret = _read(environ, prefix + "CLIENT_SECRET")
    for setting, value in (
        ("ISSUER", issuer),
        ("CLIENT_ID", client_id),
        ("CLIENT_SECRET", client_secret),
    ):
        if not value:
            raise ConfigError(prefix + setting, f"must be set for upstream {name!r}")
    return Upstream(
        name=name,
        display_name=(_read(environ, prefix + "DISPLAY_NAME") or name.title())[:50],
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        hosted_domains=_read_domains(environ, prefix + "HOSTED_DOMAINS"),
    )


def _read_upstream_issuer(environ: Mapping[str, str], name: str, production: bool) -> str | None:
    value = _read(environ, name)
    return None if value is None else _checked_issuer(name, value, production)


def _read_domains(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    value = _read(environ, name) or ""
    domains = tuple(d.strip().lower() for d in value.split(",") if d.strip())
    for domain in domains:
        if not re.match(r"^[a-z0-9.-]+\.[a-z]{2,}$", domain):
            raise ConfigError(name, f"{domain!r} is not a domain name")
    return domains


_MAILBOX = re.compile(r"^[^@\s\x00-\x1f<>\"]{1,64}@[A-Za-z0-9.-]{1,253}$")


def _read_smtp(environ: Mapping[str, str]) -> Smtp | None:
    host = _read(environ, "SMTP_HOST")
    security = _read_choice(environ, "SMTP_SECURITY", SMTP_SECURITY, "starttls")
    user, password = _read(environ, "SMTP_USER"), _read(environ, "SMTP_PASSWORD")
    if host is None:
        for name, value in (("SMTP_USER", user), ("SMTP_PASSWORD", password)):
            if value is not None:
                raise ConfigError(name, "needs SMTP_HOST")
        return None
    if not re.match(r"^[A-Za-z0-9.:-]{1,253}$", host):
        raise ConfigError("SMTP_HOST", f"must be a host name or address (got {host!r})")
    port = _read(environ, "SMTP_PORT") or str(SMTP_DEFAULT_PORTS[security])
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ConfigError("SMTP_PORT", f"must be a port from 1 to 65535 (got {port!r})")
    if (user is None) != (password is None):
        raise ConfigError(
            "SMTP_PASSWORD" if user else "SMTP_USER", "SMTP_USER and SMTP_PASSWORD go together"
        )
    if password is not None and security == "none":
        # RFC 8314 §5: credentials never cross the network in the clear.
        raise ConfigError("SMTP_SECURITY", "must be starttls or tls when a password is set")
    return Smtp(
        host=host,
        port=int(port),
        security=security,
        user=user,
        password=password,
        ca_file=_read_ca_file(environ),
    )


def _read_ca_file(environ: Mapping[str, str]) -> Path | None:
    value = _read(environ, "SMTP_CA_FILE")
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError("SMTP_CA_FILE", f"is not a readable file ({value!r})")
    return path


def _read_mail_from(environ: Mapping[str, str], issuer: str) -> str:
    value = _read(environ, "MAIL_FROM")
    if value is None:
        return f"authserver@{urlsplit(issuer).hostname}"
    if not _MAILBOX.match(value):
        raise ConfigError(
            "MAIL_FROM", f"must be a bare address such as auth@example.com (got {value!r})"
        )
    return value


def _read_signup(environ: Mapping[str, str]) -> tuple[bool, tuple[str, ...]]:
    """off (the default), on, or a comma-separated list of email domains allowed to sign up."""
    value = (_read(environ, "SIGNUP") or "off").lower()
    if value in _FALSE:
        return False, ()
    if value in _TRUE:
        return True, ()
    return True, _read_domains(environ, "SIGNUP")


def _read_brand(environ: Mapping[str, str]) -> Brand:
    try:
        return read_brand(lambda name: _read(environ, name))
    except BrandError as error:
        raise ConfigError(error.setting, error.problem) from None


def _check_consistency(settings: Settings) -> None:
    if settings.is_production and settings.signup and settings.smtp is None:
        raise ConfigError("SMTP_HOST", "must be set in production when SIGNUP is on")
    if settings.refresh_token_idle_ttl > settings.refresh_token_absolute_ttl:
        raise ConfigError(
            "REFRESH_TOKEN_IDLE_TTL", "must not be longer than REFRESH_TOKEN_ABSOLUTE_TTL"
        )
    if settings.session_idle_ttl > settings.session_absolute_ttl:
        raise ConfigError("SESSION_IDLE_TTL", "must not be longer than SESSION_ABSOLUTE_TTL")
    if settings.is_production and settings.demo:
        raise ConfigError("DEMO", "the demo page must be off in production")
    if settings.is_production and settings.database_url.startswith("sqlite"):
        raise ConfigError("DATABASE_URL", "production needs PostgreSQL, not SQLite")
    if settings.cookie_secure and urlsplit(settings.issuer).scheme != "https":
        loopback = urlsplit(settings.issuer).hostname in LOOPBACK_HOSTS
        if not loopback:
            raise ConfigError("COOKIE_SECURE", "needs an https issuer")


def current_settings() -> Settings:
    """The running app's settings."""
    from flask import current_app

    return current_app.extensions["authserver.settings"]
