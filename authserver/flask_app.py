"""Flask's application class with two per-request costs paid once.

Every request, whatever its route, ran Flask's `ensure_sync` on each hook and view (an
`inspect.iscoroutinefunction` each, fifteen per request) and built a new itsdangerous
serializer to open the session cookie, also where there is no cookie. Both answers depend
only on the function and on the secret keys, so they are remembered; a client_credentials
token spent about a twentieth of its time on them (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
import threading
import weakref
from types import FunctionType, MethodType
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per set of
    keys (SECRET_KEY and its fallbacks) instead of once per request. The serializer holds
    no per-request state: loads and dumps make their own signer."""

    def __init__(self) -> None:
        self._built: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built = self._built
        if built is None or built[0] != keys:
            built = (keys, super().get_signing_serializer(app))
            self._built = built
        return built[1]


# Hooks are plain functions, bound methods and partials (Flask-Limiter's).
_REMEMBERED_TYPES = (FunctionType, MethodType, functools.partial)


class AuthServerFlask(Flask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = SessionCookies()  # one per app: tests build several
        # Weak: a closure made per request (after_this_request) is forgotten with it.
        self._plain_functions: weakref.WeakSet[Any] = weakref.WeakSet()
        self._plain_functions_lock = threading.Lock()

    def ensure_sync(self, func: Any) -> Any:
        """Flask's answer, remembered for plain functions found not to be coroutines."""
        if type(func) not in _REMEMBERED_TYPES:
            return super().ensure_sync(func)
        if func in self._plain_functions:
            return func
        answer = super().ensure_sync(func)
        if answer is func:
            with self._plain_functions_lock:
                self._plain_functions.add(func)
        return answer
