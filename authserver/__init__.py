"""create_app(settings=None): settings, extensions, blueprints, error handlers, CLI."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from authserver.config import PROJECT_ROOT, ConfigError, Settings
from authserver.extensions import csrf, db, init_limiter, migrate
from authserver.flask_app import AuthServerFlask
from authserver.keys import KeySchedule, KeyStore, KeyStoreError
from authserver.logs import init_logging
from authserver.oauth.client_cache import ClientCache
from authserver.oidc.published import PublishedDocuments
from authserver.security import (
    add_security_headers,
    refuse_unaccepted_body,
    refuse_unstorable_text,
)

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


def create_app(settings: Settings | None = None, *, serving: bool = False) -> Flask:
    """Build the WSGI app. Settings come from the environment unless given (tests).
    `serving` (wsgi.py) adds the checks that only a server needs, not the CLI that may be
    about to make the first key."""
    settings = settings or Settings.from_env(os.environ)
    app = AuthServerFlask(
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        instance_path=str(settings.instance_dir),
    )
    app.config.update(_flask_config(settings))
    init_logging(app, settings.log_format)
    app.extensions["authserver.settings"] = settings
    app.extensions["authserver.keys"] = build_key_store(settings)
    if serving and settings.is_production:
        _require_signing_key(app.extensions["authserver.keys"])
    app.extensions["authserver.client_cache"] = ClientCache(settings.client_cache_ttl)

    _prepare_sqlite_directory(settings)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    # Before CSRFProtect's hook, which parses the form: no parser reads a refused body.
    app.before_request(refuse_unaccepted_body)
    app.before_request(refuse_unstorable_text)
    csrf.init_app(app)
    init_limiter(app)

    _register_blueprints(app)
    _register_cli(app)
    _wrap_wsgi(app, settings)
    return app


def _wrap_wsgi(app: Flask, settings: Settings) -> None:
    published = PublishedDocuments(app, settings, app.extensions["authserver.keys"])
    app.extensions["authserver.published"] = published
    app.wsgi_app = published.wrap(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # The client address and scheme come from X-Forwarded-For/-Proto, trusting exactly
        # that many proxies in front of us; without the setting the headers are ignored.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )


def _require_signing_key(store: KeyStore) -> None:
    """Production refuses to serve without a key that can sign, or with a key file that
    others can read (the store is strict in production): one line, not a 500 later."""
    try:
        store.signing_key()
    except KeyStoreError as error:
        raise ConfigError("KEYS_DIR", str(error)) from None


def build_key_store(settings: Settings) -> KeyStore:
    schedule = KeySchedule(
        # A cached JWKS may be jwks_max_age old, and workers notice new files within the
        # reload interval: publish that long before signing.
        publish_delay=timedelta(seconds=settings.jwks_max_age + settings.key_reload_interval),
        retire_grace=timedelta(seconds=settings.max_token_ttl + 60),
    )
    return KeyStore(
        settings.keys_dir,
        schedule,
        reload_interval=settings.key_reload_interval,
        strict_permissions=settings.is_production,
    )


def _flask_config(settings: Settings) -> dict[str, Any]:
    # No pool_pre_ping: it costs a round trip per request. A connection that died with the
    # database is recognised when it fails; SQLAlchemy then discards the whole pool.
    engine_options: dict[str, Any] = {}
    if settings.database_url.startswith("sqlite"):
        # Several gunicorn workers share one file: wait for a lock instead of failing.
        engine_options["connect_args"] = {"timeout": 30}
    else:
        # While the database is unreachable, answer 503 in seconds rather than hang a worker.
        engine_options["connect_args"] = {"connect_timeout": 5}
        engine_options["pool_timeout"] = 10
        if settings.database_pool_size:
            # One connection per request thread, kept open; no overflow, so the database
            # sees a known number of connections (workers x threads per instance).
            engine_options["pool_size"] = settings.database_pool_size
            engine_options["max_overflow"] = 0
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SESSION_COOKIE_SECURE": settings.cookie_secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if settings.issuer.startswith("https") else "http",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        # Storage failures raise limits' StorageError, which authserver.ratelimits catches.
        "RATELIMIT_STORAGE_OPTIONS": {"wrap_exceptions": True},
        "RATELIMIT_KEY_PREFIX": "authserver",
        "RATELIMIT_HEADERS_ENABLED": True,
        # A Redis outage must not lock everyone out: count in memory until it is back.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }


def _prepare_sqlite_directory(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """SQLite ignores foreign keys unless told, and WAL lets readers and a writer coexist."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


def _register_blueprints(app: Flask) -> None:
    from authserver.account.credentials import credentials
    from authserver.account.invitation_link import invitation_link
    from authserver.account.org_keys import org_keys
    from authserver.account.routes import account
    from authserver.admin.routes import admin
    from authserver.api.api_keys import keys_api
    from authserver.api.openapi import openapi_api
    from authserver.api.orgs import invitations_api, orgs_api
    from authserver.api.services import services_api
    from authserver.api.teams import teams_api
    from authserver.demo.routes import init_demo
    from authserver.device.routes import device
    from authserver.errors import register_error_handlers
    from authserver.health import health
    from authserver.identity.flows import flows
    from authserver.identity.routes import identity
    from authserver.identity.sessions import init_sessions
    from authserver.identity.upstream import init_upstreams
    from authserver.mail.transport import init_mail
    from authserver.metrics import init_metrics
    from authserver.mfa.api import mfa_policy_api
    from authserver.mfa.routes import mfa
    from authserver.mfa.security_routes import security
    from authserver.oauth.cors import init_cors
    from authserver.oauth.routes import oauth
    from authserver.oauth.server import init_server
    from authserver.oidc.backchannel import init_backchannel
    from authserver.oidc.routes import oidc
    from authserver.pages.routes import init_pages

    init_pages(app)
    init_sessions(app)
    init_upstreams(app, app.extensions["authserver.settings"])
    init_demo(app, app.extensions["authserver.settings"])
    init_server(app)
    init_cors(app)
    init_metrics(app, app.extensions["authserver.settings"].metrics)
    init_mail(app, app.extensions["authserver.settings"])
    init_backchannel(app)
    app.register_blueprint(account)
    app.register_blueprint(admin)
    app.register_blueprint(credentials)
    app.register_blueprint(invitation_link)
    app.register_blueprint(org_keys)
    app.register_blueprint(flows)
    app.register_blueprint(services_api)
    app.register_blueprint(orgs_api)
    app.register_blueprint(invitations_api)
    app.register_blueprint(teams_api)
    app.register_blueprint(keys_api)
    app.register_blueprint(mfa_policy_api)
    app.register_blueprint(openapi_api)
    app.register_blueprint(health)
    app.register_blueprint(identity)
    app.register_blueprint(mfa)
    app.register_blueprint(security)
    app.register_blueprint(oauth)
    app.register_blueprint(oidc)
    app.register_blueprint(device)
    register_error_handlers(app)
    app.after_request(add_security_headers)


def _register_cli(app: Flask) -> None:
    from authserver.cli import register_commands

    register_commands(app)
