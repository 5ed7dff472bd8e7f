"""Console page for the signing keys: states, rotate, retire (root), as `authserver keys`."""

from __future__ import annotations

from flask import Response, abort, request

from authserver import audit
from authserver.admin.console import admin, done, operator, page, require_root, text_arg
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.keys import ALGORITHMS, DEFAULT_ALGORITHM, KeyStoreError, current_key_store


def _record(event_type: str, kid: str, **details: object) -> None:
    audit.record(
        event_type, actor_user_id=operator().user.id, target_type="key", target_id=kid, **details
    )


@admin.get("/keys")
def keys() -> Response:
    store = current_key_store()
    now = utcnow()
    try:
        signing = store.signing_key(now).kid
    except KeyStoreError:
        signing = None
    return page(
        "keys.html",
        keys=sorted(store.keys(), key=lambda key: key.created_at, reverse=True),
        signing=signing,
        now=now,
        algorithms=ALGORITHMS,
        default_algorithm=DEFAULT_ALGORITHM,
        publish_delay=store.schedule.publish_delay,
    )


@admin.post("/keys/rotate")
def rotate_key() -> Response:
    alg = request.form.get("alg", DEFAULT_ALGORITHM)
    if alg not in ALGORITHMS:
        abort(400, f"alg must be one of {', '.join(ALGORITHMS)}.")
    immediately = request.form.get("now") == "on"
    if immediately:
        require_root()  # it retires the signing key at once: as grave as retiring it
    new, retired = current_key_store().rotate(alg, immediately=immediately)
    _record(
        "key.rotated", new.kid, alg=alg, retired=[key.kid for key in retired], immediate=immediately
    )
    return done("admin.keys")


@admin.post("/keys/retire")
def retire_key() -> Response:
    require_root()
    kid = text_arg("kid", request.form, limit=100)
    immediately = request.form.get("now") == "on"
    try:
        current_key_store().find(kid)
    except KeyStoreError:
        abort(404, "There is no such key.")
    try:
        key = current_key_store().retire(kid, immediately=immediately)
    except KeyStoreError as error:
        db.session.rollback()
        abort(409, str(error).removeprefix("KID: "))
    _record("key.retired", key.kid, immediate=immediately)
    return done("admin.keys")


@admin.post("/keys/prune")
def prune_keys() -> Response:
    """Delete the files of keys no longer published (`authserver keys prune`)."""
    for kid in current_key_store().prune():
        _record("key.pruned", kid)
    return done("admin.keys")
