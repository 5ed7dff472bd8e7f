"""Sign-in through upstream OpenID providers (Google is a preset) with Authlib's Flask client.

The upstream leg uses state, nonce and PKCE S256; Authlib checks the ID token's signature
against the provider's JWKS, and its iss, aud, exp and nonce. We add: the discovery
document must name the configured issuer, the email must be verified, and the hosted
domain must be allowed when the operator limited it.

Accounts: a person is found by (provider, subject). The first sign-in links to an existing
user with the same email (the provider has verified that address, which is required), or
creates one with the provider's name and picture.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, Response
from flask_babel import lazy_gettext
from joserfc.errors import JoseError

from authserver.clock import utcnow
from authserver.config import Settings, Upstream
from authserver.extensions import db
from authserver.identity import accounts
from authserver.models import OAuthAccount, User
from authserver.models.users import normalize_email
from authserver.oauth.freshness import Freshness
from authserver.outbound import Bounded, Bounds

log = logging.getLogger(__name__)

UPSTREAM_TIMEOUT = 5  # seconds to connect, and for each read of discovery, JWKS and token
# The whole of each of those calls, however the upstream trickles or redirects it, and the
# size of its answer: a sign-in holds a worker's thread while it waits (authserver/outbound.py).
UPSTREAM_DEADLINE = 10  # seconds
MAX_UPSTREAM_ANSWER_BYTES = 1024 * 1024  # Google's discovery document is 2 KB
# Each worker reads a provider's discovery document again after this long, and tries again
# this soon when that fails, serving the copy it has meanwhile.
DISCOVERY_TTL = 24 * 3600  # seconds
DISCOVERY_RETRY = 60  # seconds
# Clocks of the upstream and ours may differ this much (an auth_time "in the future", or
# just before the moment a re-authentication was asked for).
AUTH_TIME_LEEWAY = timedelta(seconds=60)


class UpstreamFailure(Exception):
    """The upstream sign-in did not succeed. `reason` is for the log and audit; `message`
    is what the person reads."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Identity:
    provider: str
    subject: str
    email: str
    name: str
    picture: str | None
    auth_time: datetime | None = None  # the upstream's own, when its ID token says
    # The upstream ID token's `amr` (RFC 8176), which says what the upstream itself checked.
    amr: tuple[str, ...] = ()


class BoundedOAuth2Session(Bounded, OAuth2Session):
    """Authlib's requests session, each call within our size and time bounds."""

    def bounds(self) -> Bounds:
        return Bounds(
            max_bytes=MAX_UPSTREAM_ANSWER_BYTES,
            seconds=UPSTREAM_DEADLINE,
            read_timeout=UPSTREAM_TIMEOUT,
        )


class BoundedOAuthApp(FlaskOAuth2App):
    """Authlib's Flask client for one upstream, on BoundedOAuth2Session."""

    client_cls = BoundedOAuth2Session

    def load_server_metadata(self) -> dict[str, Any]:
        """Authlib reads the discovery document once and keeps it for good: we read it again
        once it is DISCOVERY_TTL old, so that a provider's moved endpoints and keys reach
        every worker without a restart. While the provider cannot give a good new one
        (unreachable, failing, or naming another issuer), the copy we have serves on, and
        the next try waits DISCOVERY_RETRY seconds."""
        loaded_at = self.server_metadata.get("_loaded_at")
        if loaded_at is not None and time.time() - loaded_at >= DISCOVERY_TTL:
            self._read_again()
        return super().load_server_metadata()

    def _read_again(self) -> None:
        # Authlib's own read (load_server_metadata), which cannot be asked to read again.
        url, issuer = self._server_metadata_url, self.server_metadata.get("issuer")
        try:
            with self._get_session() as session:
                response = session.request("GET", url, withhold_token=True)
                response.raise_for_status()
                fresh = response.json()
            if not isinstance(fresh, dict) or fresh.get("issuer") != issuer:
                raise ValueError("the new document names another issuer")
        except (requests.RequestException, ValueError) as error:
            log.warning("discovery document %s not read again: %s", url, error)
            self.server_metadata["_loaded_at"] = time.time() - DISCOVERY_TTL + DISCOVERY_RETRY
            return
        self.server_metadata.pop("jwks", None)  # the keys, from the new jwks_uri
        self.server_metadata.update(fresh, _loaded_at=time.time())


def init_upstreams(app: Flask, settings: Settings) -> OAuth:
    """Register every upstream in one Authlib client registry (the demo adds itself too)."""
    oauth = OAuth(app)
    for upstream in settings.upstreams:
        oauth.register(
            upstream.name,
            client_id=upstream.client_id,
            client_secret=upstream.client_secret,
            server_metadata_url=f"{upstream.issuer}/.well-known/openid-configuration",
            client_cls=BoundedOAuthApp,
            client_kwargs={
                "scope": "openid email profile",
                "code_challenge_method": "S256",
            },
        )
    app.extensions["authserver.upstreams"] = {u.name: u for u in settings.upstreams}
    app.extensions["authserver.oauth_clients"] = oauth
    return oauth


def _client(app: Flask, name: str) -> Any:
    return app.extensions["authserver.oauth_clients"].create_client(name)


def redirect_to(
    app: Flask,
    upstream: Upstream,
    callback_url: str,
    login_hint: str,
    asked: Freshness | None = None,
) -> Response:
    client = _client(app, upstream.name)
    extra: dict[str, str] = {}
    if len(upstream.hosted_domains) == 1:
        extra["hd"] = upstream.hosted_domains[0]  # Google's account chooser hint only
    if login_hint:
        extra["login_hint"] = login_hint
    # A re-authentication the app asked of us is real only if the upstream makes it: pass
    # prompt=login and max_age on (OIDC Core §3.1.2.1), then check its auth_time.
    if asked is not None and asked.prompt_login:
        extra["prompt"] = "login"
    if asked is not None and asked.max_age is not None:
        extra["max_age"] = str(asked.max_age)
    try:
        _check_metadata(client, upstream)
        return client.authorize_redirect(callback_url, **extra)
    except (requests.RequestException, ValueError) as error:
        raise UpstreamFailure("provider_unreachable", _UNREACHABLE) from error


def finish(app: Flask, upstream: Upstream) -> Identity:
    """Complete the callback: exchange the code and validate the ID token."""
    client = _client(app, upstream.name)
    try:
        token = client.authorize_access_token()
    except MismatchingStateError as error:
        raise UpstreamFailure("state_mismatch", _EXPIRED) from error
    except OAuthError as error:
        if error.error == "access_denied":
            raise UpstreamFailure("cancelled", "You cancelled the sign-in.") from error
        raise UpstreamFailure(f"upstream_error:{error.error}", _FAILED) from error
    except (requests.RequestException, ValueError) as error:
        raise UpstreamFailure("provider_unreachable", _UNREACHABLE) from error
    except JoseError as error:
        raise UpstreamFailure("bad_id_token", _FAILED) from error
    claims = token.get("userinfo")
    if not claims:
        raise UpstreamFailure("no_id_token", _FAILED)
    return _identity(upstream, dict(claims))


def _check_metadata(client: Any, upstream: Upstream) -> None:
    """OIDC Discovery §4.3: the document must name the issuer it was fetched for."""
    metadata = client.load_server_metadata()
    if metadata.get("issuer", "").rstrip("/") != upstream.issuer:
        raise ValueError("discovery issuer mismatch")


def _identity(upstream: Upstream, claims: dict[str, Any]) -> Identity:
    email = normalize_email(str(claims.get("email") or ""))
    if not email or claims.get("email_verified") is not True:
        raise UpstreamFailure(
            "email_unverified", f"{upstream.display_name} has not verified your email address."
        )
    if upstream.hosted_domains and claims.get("hd") not in upstream.hosted_domains:
        raise UpstreamFailure(
            "domain_not_allowed", "This server does not accept accounts from your organization."
        )
    return Identity(
        provider=upstream.name,
        subject=str(claims["sub"]),
        email=email,
        name=_display_name(claims, email),
        picture=_picture(claims.get("picture")),
        auth_time=_auth_time(claims.get("auth_time")),
        amr=_amr(claims.get("amr")),
    )


def _auth_time(value: Any) -> datetime | None:
    """The upstream's auth_time (OIDC Core §2: seconds since the epoch), never later than
    now beyond clock skew."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UpstreamFailure("bad_auth_time", _FAILED)
    try:
        when = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise UpstreamFailure("bad_auth_time", _FAILED) from error
    now = utcnow()
    if when > now + AUTH_TIME_LEEWAY:
        raise UpstreamFailure("auth_time_in_future", _FAILED)
    return min(when, now)


def check_reauthenticated(upstream: Upstream, identity: Identity, asked: Freshness | None) -> None:
    """What we passed on to the upstream, it must have done (OIDC Core §3.1.2.1): with
    max_age its ID token must carry auth_time, and any auth_time it gives must satisfy the
    request, within clock skew. Without auth_time after prompt=login we take its word."""
    if asked is None or not asked.asks_reauthentication:
        return
    not_fresh = UpstreamFailure(
        "not_reauthenticated",
        f"The app asked you to sign in again, but {upstream.display_name} did not ask you. "
        "Try again, or sign in another way.",
    )
    if identity.auth_time is None:
        if asked.max_age is not None:
            raise not_fresh
        return
    if identity.auth_time < asked.not_before() - AUTH_TIME_LEEWAY:
        raise not_fresh


def _amr(value: Any) -> tuple[str, ...]:
    """OIDC Core §2: `amr` is a JSON array of strings; anything else says nothing."""
    if not isinstance(value, list):
        return ()
    return tuple(item[:32] for item in value[:16] if isinstance(item, str))


def _display_name(claims: dict[str, Any], email: str) -> str:
    name = str(claims.get("name") or email.split("@")[0])
    cleaned = "".join(char for char in name if char.isprintable()).strip()
    return cleaned[:100] or email.split("@")[0][:100]


def _picture(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("https://") and len(value) <= 2000:
        return value
    return None


def find_or_create_user(identity: Identity) -> tuple[User, bool]:
    """The person for this upstream identity; True when the account was created now."""
    account = OAuthAccount.find(identity.provider, identity.subject)
    now = utcnow()
    if account is not None:
        account.last_sign_in_at = now
        account.email = identity.email
        return account.user, False
    user = User.find_by_email(identity.email)
    if user is not None and not user.email_verified:
        # Linking by email trusts that the account's holder proved the address; this one
        # never did, so it may be anyone's (security review: pre-account hijack).
        accounts.release_unverified_address(user)
        user = None
    created = user is None
    if user is None:
        user = User(
            email=identity.email,
            email_verified=True,
            display_name=identity.name,
            avatar_url=identity.picture,
        )
        db.session.add(user)
        db.session.flush()
    else:
        user.email_verified = True  # the provider has just verified it
    db.session.add(
        OAuthAccount(
            user_id=user.id,
            provider=identity.provider,
            provider_subject=identity.subject,
            email=identity.email,
            last_sign_in_at=now,
        )
    )
    db.session.flush()
    return user, created


_FAILED = lazy_gettext("The sign-in could not be completed.")
_EXPIRED = lazy_gettext("This sign-in attempt has expired or was already used.")
_UNREACHABLE = lazy_gettext("The sign-in provider cannot be reached right now.")
