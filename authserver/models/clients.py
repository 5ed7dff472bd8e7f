"""OAuth clients: the registered apps, with exactly what each may ask for."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, false, select
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.hashing import matches_hash
from authserver.models.base import JSONType, Timestamps, UUIDPrimaryKey

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
# The methods of a client that can keep a credential: a secret, or a private key (RFC 7523).
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SECRETLESS_AUTH_METHODS = ("private_key_jwt", "none")
DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693, for API keys
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE_GRANT_TYPE,
    TOKEN_EXCHANGE,
)


class OAuthClient(UUIDPrimaryKey, Timestamps, db.Model):
    """A registered client. Confidential clients keep only their secret's SHA-256 here.

    The check_* and get_* methods are the answers Authlib's ClientMixin asks for.
    """

    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN "
            "('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')",
            name="auth_method_known",
        ),
        # A public client and a private_key_jwt client have no secret; the others always do.
        CheckConstraint(
            "(token_endpoint_auth_method IN ('none', 'private_key_jwt'))"
            " = (client_secret_hash IS NULL)",
            name="secret_matches_auth_method",
        ),
    )

    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(30))
    is_first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    # RFC 7591 §2 client metadata shown to people on the hosted pages: the app's logo, its
    # home page (the way back to it) and its privacy policy and terms.
    logo_uri: Mapped[str | None] = mapped_column(String(2000))
    client_uri: Mapped[str | None] = mapped_column(String(2000))
    policy_uri: Mapped[str | None] = mapped_column(String(2000))
    tos_uri: Mapped[str | None] = mapped_column(String(2000))
    service_name: Mapped[str | None] = mapped_column(
        ForeignKey("services.name", ondelete="RESTRICT"), index=True
    )
    # RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # OIDC Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed, and whether
    # the client needs `sid` in them.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # private_key_jwt (RFC 7523, OIDC Core §9): the client's public keys, inline or by URL.
    jwks: Mapped[dict | None] = mapped_column(JSONType)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    # RFC 9126 §6: this client's authorization requests must come through /par.
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @classmethod
    def find(cls, client_id: str) -> OAuthClient | None:
        return db.session.scalar(select(cls).where(cls.client_id == client_id))

    @classmethod
    def every_redirect_uri(cls) -> list[str]:
        """The redirect URIs of all clients (CORS preflights name no client)."""
        return [uri for uris in db.session.scalars(select(cls.redirect_uris)) for uri in uris]

    @property
    def client_metadata(self) -> dict[str, list[str]]:
        """The registered metadata Authlib's OIDC endpoints read (RP-Initiated Logout)."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: only a client with exactly one registered URI may omit it.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(self.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §4.1.3: exact string comparison, no prefix or pattern matching.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_hash is None:
            return False
        return matches_hash(client_secret, self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types
