"""DPoP proofs seen (RFC 9449 §11.1): each `jti` is accepted once per key, on every instance.

With AUTHSERVER_REDIS_URL the record is a Redis key that expires with the proof's `iat`
window (SET NX EX: one round trip, atomic). Without Redis, or while it is unreachable, it
is a row of dpop_proof_uses, committed at once, so instances that share the database share
it too. The request's own session commits it, not a second connection: under gunicorn each
thread has exactly one pooled connection, and a thread waiting for a second could starve.
So a proof is checked first thing in a request, before anything is locked or written.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import current_app

from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models import DPoPProofUse

log = logging.getLogger(__name__)

REDIS_PREFIX = "authserver:dpop:"


def first_use(key: str, ttl: int) -> bool:
    """Remember `key` for `ttl` seconds; False when it was already remembered."""
    digest = sha256_hex(key)
    url = current_settings().redis_url
    if url is not None:
        try:
            return bool(_redis(url).set(REDIS_PREFIX + digest, b"1", nx=True, ex=ttl))
        except redis.RedisError as error:
            log.warning("DPoP replay cache: Redis unreachable, using the database: %s", error)
    now = utcnow()
    first = DPoPProofUse.record_first_use(digest, now + timedelta(seconds=ttl), now)
    db.session.commit()  # the record holds whatever the request does next
    return first


def _redis(url: str) -> redis.Redis:
    """One client (a connection pool) per app; a short timeout, as a proof waits on it."""
    client = current_app.extensions.get("authserver.dpop_redis")
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        current_app.extensions["authserver.dpop_redis"] = client
    return client
