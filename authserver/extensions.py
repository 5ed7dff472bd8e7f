"""Flask extensions, created unbound and bound once by create_app()."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints make migrations deterministic and let SQLite's batch mode alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Counters live in Redis when AUTHSERVER_REDIS_URL is set, so instances share them.
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# The endpoints that carry a @limiter.limit (tests/api/test_rate_limits.py checks that the
# two agree). A limit added to another endpoint must be named here.
RATE_LIMITED_ENDPOINTS = frozenset(
    {
        "flows.forgot_password",
        "flows.reset_password",
        "flows.sign_up",
        "mfa.passkey_options",
        "mfa.second_step_webauthn_options",
        "oauth.device_authorization",
        "oauth.push_authorization_request",
    }
)


def init_limiter(app: Flask) -> None:
    """Flask-Limiter, with its before_request hook run only where a limit is.

    That hook resolves and evaluates limits for every request, even with none to apply:
    a seventh of the time of a request to a trivial route. We set no default or
    application-wide limits, and each decorated route checks its own limits in its
    decorator, so the hook is needed only on the endpoints that carry one."""
    limiter.init_app(app)
    hooks = app.before_request_funcs[None]
    check = limiter._check_request_limit  # the hook init_app registered

    def check_where_limited() -> None:
        if request.endpoint in RATE_LIMITED_ENDPOINTS:
            check()

    hooks[hooks.index(check)] = check_where_limited
