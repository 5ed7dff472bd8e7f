"""`authserver cleanup`: rows dead for more than a day go; everything still usable stays."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.housekeeping import clean
from authserver.models import (
    AuthorizationCode,
    DeviceAuthorization,
    DPoPProofUse,
    GrantFamily,
    PendingAuthorization,
    PendingSignIn,
    PushedAuthorizationRequest,
    RefreshToken,
    Session,
    UsedClientAssertion,
    WebAuthnChallenge,
)
from tests.factories import (
    make_client,
    make_code,
    make_family,
    make_refresh_token,
    make_session,
    make_user,
)

LONG_AGO = timedelta(days=2)


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_dead_rows_go_and_live_ones_stay(app: Flask) -> None:
    now = utcnow()
    user, client = make_user(), make_client()
    make_code(client, user, expires_at=now - LONG_AGO)
    make_code(client, user)  # still usable
    make_session(user, expires_at=now - LONG_AGO, idle_expires_at=now - LONG_AGO)
    make_session(user, idle_expires_at=now - LONG_AGO)  # idle too long: dead
    live_session = make_session(user)
    expired = make_family(client, user, expires_at=now - LONG_AGO)
    make_refresh_token(expired)  # goes with its family
    make_family(client, user, revoked_at=now - LONG_AGO)
    recently_revoked = make_family(client, user, revoked_at=now - timedelta(hours=1))
    live = make_family(client, user)
    make_refresh_token(live, expires_at=now - LONG_AGO)  # idle-expired, family alive
    kept_token = make_refresh_token(live)
    db.session.add(PendingAuthorization(client_id="x", params={}, expires_at=now - LONG_AGO))
    db.session.add(DPoPProofUse(proof_hash="a" * 64, expires_at=now - LONG_AGO))
    db.session.add(DPoPProofUse(proof_hash="b" * 64, expires_at=now))  # its window is open
    for expires_at, token in ((now - LONG_AGO, "a" * 64), (now, "b" * 64)):
        db.session.add(
            PendingSignIn(token_hash=token, user_id=user.id, method="pwd", expires_at=expires_at)
        )
        db.session.add(
            WebAuthnChallenge(challenge_hash=token, purpose="passkey", expires_at=expires_at)
        )
    for expires_at, suffix in ((now - LONG_AGO, "dead"), (now, "live")):
        db.session.add(
            DeviceAuthorization(
                device_code_hash="d" + suffix,
                user_code_hash="u" + suffix,
                client_id=client.id,
                expires_at=expires_at,
                interval=5,
            )
        )
        db.session.add(
            PushedAuthorizationRequest(
                request_uri_hash=suffix, client_id="x", params={}, expires_at=expires_at
            )
        )
    # A used assertion id is needed only until its assertion expires.
    db.session.add(UsedClientAssertion(client_id="x", jti="a", expires_at=now - timedelta(1)))
    db.session.add(UsedClientAssertion(client_id="x", jti="b", expires_at=now + timedelta(1)))
    db.session.commit()

    assert clean(now, dry_run=True) == {
        "authorization_codes": 1,
        "pending_authorizations": 1,
        "sessions": 2,
        "grant_families": 2,
        "refresh_tokens": 1,  # plus the dead family's token, which goes by cascade
        "dpop_proof_uses": 1,
        "mfa_pending_sign_ins": 1,
        "mfa_webauthn_challenges": 1,
        "verification_tokens": 0,  # tests/mail/test_housekeeping.py
        "outbox": 0,
        "device_authorizations": 1,
        "pushed_authorization_requests": 1,
        "used_client_assertions": 1,
    }
    assert count(AuthorizationCode) == 2  # a dry run deletes nothing

    clean(now)
    db.session.commit()

    assert count(AuthorizationCode) == 1 and count(PendingAuthorization) == 0
    assert [s.id for s in db.session.scalars(select(Session))] == [live_session.id]
    assert {f.id for f in db.session.scalars(select(GrantFamily))} == {live.id, recently_revoked.id}
    assert [t.id for t in db.session.scalars(select(RefreshToken))] == [kept_token.id]
    assert count(PendingSignIn) == 1 and count(WebAuthnChallenge) == 1
