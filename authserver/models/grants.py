"""What a person granted a client: consents, authorization codes, grant families, refresh tokens."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    LargeBinary,
    Select,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from authserver.clock import utcnow
from authserver.extensions import db
from authserver.hashing import sha256_hex
from authserver.models.base import JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey
from authserver.models.clients import OAuthClient
from authserver.models.users import User


class Consent(UUIDPrimaryKey, Timestamps, db.Model):
    """The scopes a person approved for a client; asked again only for new ones."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)

    client: Mapped[OAuthClient] = relationship()

    @classmethod
    def find(cls, user_id: uuid.UUID, client_id: uuid.UUID) -> Consent | None:
        stmt = select(cls).where(cls.user_id == user_id, cls.client_id == client_id)
        return db.session.scalar(stmt)

    @classmethod
    def approved_scopes(cls, user_id: uuid.UUID, client_id: uuid.UUID) -> set[str]:
        found = cls.find(user_id, client_id)
        return set(found.scopes) if found else set()

    @classmethod
    def remember(cls, user_id: uuid.UUID, client_id: uuid.UUID, scopes: set[str]) -> Consent:
        """Add the scopes to what the person approved for the client (never removes any)."""
        found = cls.find(user_id, client_id)
        if found is None:
            found = cls(user_id=user_id, client_id=client_id, scopes=[])
            db.session.add(found)
        found.scopes = sorted(set(found.scopes) | scopes)
        db.session.flush()
        return found


class GrantContext:
    """What an authorization was: which client, which person in which session and org,
    which scopes and resources, and how the person signed in. A code carries it to the
    token endpoint; the family it starts keeps it for every refresh."""

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    auth_methods: Mapped[list[str]] = mapped_column(JSONType, default=list)


class GrantFamily(UUIDPrimaryKey, GrantContext, db.Model):
    """Everything issued from one authorization: its refresh tokens and the access tokens
    that carry its id. Revoking the family makes all of them inactive at once.

    A table of its own (DESIGN names only a family id) so that a code exchange without a
    refresh token is revocable too, and the absolute lifetime lives in one place.
    """

    __tablename__ = "grant_families"

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Absolute lifetime: rotation never moves it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(30))
    # RFC 9449 §5: a public client's refresh tokens are bound to the DPoP key (its RFC 7638
    # thumbprint) that the family was started with.
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def backchannel_clients_of_session(cls, session_id: uuid.UUID) -> list[str]:
        """The client ids of the clients that hold a grant (revoked or not) from the session
        and registered a back-channel logout URI (OIDC Back-Channel Logout 1.0 §2.7)."""
        stmt = (
            select(OAuthClient.client_id)
            .join(cls, cls.client_id == OAuthClient.id)
            .where(cls.session_id == session_id, OAuthClient.backchannel_logout_uri.is_not(None))
            .distinct()
            .order_by(OAuthClient.client_id)
        )
        return list(db.session.scalars(stmt))

    @classmethod
    def active_of(cls, user_id: uuid.UUID, client_id: uuid.UUID | None = None) -> list[GrantFamily]:
        """The person's families not yet revoked, for one client or for all."""
        stmt = select(cls).where(cls.user_id == user_id, cls.revoked_at.is_(None))
        if client_id is not None:
            stmt = stmt.where(cls.client_id == client_id)
        return list(db.session.scalars(stmt))


class AuthorizationCode(UUIDPrimaryKey, GrantContext, db.Model):
    """A single-use code bound to client, redirect URI and PKCE challenge; stored as SHA-256."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10), default="S256")
    nonce: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set at redemption, so that a replay can revoke what the first use issued.
    family_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("grant_families.id", ondelete="SET NULL"), index=True
    )

    client: Mapped[OAuthClient] = relationship()
    user: Mapped[User] = relationship()

    # /token reads and redeems codes as plain rows (oauth/store.py).


class RefreshToken(UUIDPrimaryKey, db.Model):
    """One link of a rotating chain; only its SHA-256 is stored.

    `successor_ciphertext` is the successor token encrypted under a key derived from this
    token's raw value, so an idempotent retry inside the grace window can get the same
    successor back without the server keeping any refresh token in plain text.
    """

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("grant_families.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Idle deadline, never past the family's absolute one.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    successor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("refresh_tokens.id", ondelete="SET NULL"), index=True
    )
    successor_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    family: Mapped[GrantFamily] = relationship()
    client: Mapped[OAuthClient] = relationship()

    @classmethod
    def find(cls, raw: str) -> RefreshToken | None:
        """For /introspect and /revoke; /token reads and rotates plain rows (oauth/store.py)."""
        return db.session.scalar(_refresh_lookup(), {"token_hash": sha256_hex(raw)})

    def is_expired(self) -> bool:
        return utcnow() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.family.is_revoked

    def get_scope(self) -> str:
        return self.scope


# Built once, with bind parameters: building a joined select costs SQLAlchemy about a third
# of running it.


@functools.cache
def _refresh_lookup() -> Select[tuple[RefreshToken]]:
    # Its family and person come in the same query.
    return (
        select(RefreshToken)
        .options(
            joinedload(RefreshToken.family, innerjoin=True).joinedload(
                GrantFamily.user, innerjoin=True
            )
        )
        .where(RefreshToken.token_hash == bindparam("token_hash"))
    )
