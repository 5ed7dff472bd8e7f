"""RP-Initiated Logout 1.0 on Authlib's EndSessionEndpoint: ends our session and what it
issued, and redirects only to a registered post_logout_redirect_uri."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as AuthlibEndSessionEndpoint
from joserfc.jwk import KeySet
from sqlalchemy import select

from authserver import audit
from authserver.clock import utcnow
from authserver.config import current_settings
from authserver.extensions import db
from authserver.identity import sessions
from authserver.keys import ALGORITHMS, current_key_store
from authserver.models import GrantFamily, Session
from authserver.oauth import families
from authserver.oauth.tokens import scopes_of


class EndSessionEndpoint(AuthlibEndSessionEndpoint):
    def get_server_jwks(self) -> KeySet:
        return KeySet.import_key_set(current_key_store().jwks())

    def get_algorithms(self) -> list[str]:
        return list(ALGORITHMS)

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        claims = super()._validate_id_token_hint(id_token_hint)
        # Our access tokens are signed by the same keys: only an ID token of ours is a hint.
        if claims.get("iss") != current_settings().issuer or "scope" in claims:
            raise InvalidRequestError("id_token_hint is not an ID token of this server.")
        return claims

    def end_session(self, end_session_request: Any) -> None:
        session = sessions.current()
        if session is not None:
            end(session, reason="logout")


def end(session: Session, *, reason: str) -> None:
    """Delete the session and revoke the grants it started, except offline_access ones,
    which a person granted precisely to outlive the session (OIDC Core §11)."""
    now = utcnow()
    started = db.session.scalars(
        select(GrantFamily).where(
            GrantFamily.session_id == session.id, GrantFamily.revoked_at.is_(None)
        )
    )
    for family in started:
        if "offline_access" not in scopes_of(family.scope):
            families.revoke_family(family, reason, now)
    audit.record(
        "session.ended",
        actor_user_id=session.user_id,
        target_type="session",
        target_id=str(session.id),
        reason=reason,
    )
    sessions.end(session)
