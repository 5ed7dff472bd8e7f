"""Verifier: checks an authserver access token offline (RFC 9068) and, when asked, live at
/introspect (RFC 7662), and gives its claims as an AccessToken."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError

from authserver_rs.claims import (
    AccessToken,
    MalformedClaims,
    parse_claims,
    role_permissions_of,
)
from authserver_rs.dpop import DPoPPolicy, DPoPRequest, bound_key, check_proof
from authserver_rs.errors import InvalidToken, IssuerUnavailable
from authserver_rs.introspection import ClientCredentials, Introspector
from authserver_rs.jwks import RETRY_AFTER_FAILURE, Fetched, JwksCache

# Asymmetric algorithms only: authserver signs with RS256, ES256 or EdDSA, and a shared
# secret (HS256) or "none" must never be accepted (RFC 8725 §3.1).
DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
# RFC 9068 §4: the resource server checks that `typ` is at+jwt (media type, any case).
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
MAX_TOKEN_LENGTH = 16384  # far above our 50-org bound; a bigger header is refused unparsed


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def load_manifest(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A manifest given as a dict, or as the path of its JSON file."""
    if isinstance(source, Mapping):
        return dict(source)
    found = json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(found, dict):
        raise ValueError(f"{source}: a manifest is a JSON object")
    return found


def check_unbound(claims: Mapping[str, Any]) -> None:
    """RFC 9449 §7.2: a DPoP-bound token (`cnf.jkt`) presented as a bearer token is refused,
    or the binding would be undone by whoever holds a copy of the token. Any other `cnf`
    (RFC 8705's mTLS binding) cannot be checked here and is refused too."""
    if bound_key(claims) is not None:
        raise InvalidToken("This token is DPoP-bound: send it with the DPoP scheme and a proof.")


class Verifier:
    """Verifies access tokens for one service (`audience`) of one issuer. Thread-safe; make
    one at start-up and share it. Discovery and the JWKS are fetched on first use. `dpop`
    says how DPoP proofs are checked (RFC 9449; default: DPoPPolicy())."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        manifest: Mapping[str, Any] | str | Path | None = None,
        introspection: ClientCredentials | None = None,
        introspect_by_default: bool = True,
        introspection_cache_ttl: float = 5.0,
        leeway: int = 30,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        jwks_refetch_interval: float = 30.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        dpop: DPoPPolicy | None = None,
    ) -> None:
        self.issuer = issuer
        self.dpop = dpop or DPoPPolicy()
        self.audience = audience
        self._role_permissions = role_permissions_of(load_manifest(manifest)) if manifest else {}
        self._leeway = leeway
        self._algorithms = tuple(algorithms)
        self._clock = clock
        self._http = http or httpx.Client(timeout=5.0)
        self._metadata: dict[str, Any] | None = None
        self._metadata_lock = threading.Lock()
        self._discovery_retry_at = float("-inf")
        self._jwks = JwksCache(
            self._fetch_jwks, refetch_interval=jwks_refetch_interval, clock=clock
        )
        self._introspect_by_default = introspect_by_default
        self._introspector = (
            Introspector(introspection, cache_ttl=introspection_cache_ttl, clock=clock)
            if introspection
            else None
        )

    @property
    def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document, read once (OIDC Discovery; RFC 8414 §3.3: its
        `issuer` must be the one we were configured with)."""
        with self._metadata_lock:
            if self._metadata is not None:
                return self._metadata
            if time.monotonic() < self._discovery_retry_at:
                # Requests arriving during an outage must not each hit the issuer.
                raise IssuerUnavailable(f"discovery at {self.issuer} failed; retrying shortly")
            try:
                found = self._get_json(discovery_url(self.issuer))
                if found.get("issuer") != self.issuer or not isinstance(found.get("jwks_uri"), str):
                    raise IssuerUnavailable(
                        f"discovery at {self.issuer} names issuer {found.get('issuer')!r}"
                    )
            except IssuerUnavailable:
                self._discovery_retry_at = time.monotonic() + RETRY_AFTER_FAILURE
                raise
            self._metadata = found
            return found

    def verify(self, token: str, *, live: bool | None = None) -> AccessToken:
        """The token's claims if it is a valid bearer access token for this service;
        InvalidToken otherwise (a DPoP-bound one too: it needs verify_dpop), IssuerUnavailable
        when that cannot be decided now. `live` asks /introspect too (default: when
        introspection credentials were given)."""
        claims = self._checked_claims(token)
        check_unbound(claims)
        return self._access_token(token, claims, live)

    def verify_dpop(
        self, token: str, request: DPoPRequest, *, live: bool | None = None
    ) -> AccessToken:
        """The same for a token sent with the DPoP scheme (RFC 9449 §7.1): it must be
        DPoP-bound, and the request's proof must pass §4.3 and be signed by the bound key.
        InvalidDPoPProof for the proof, ReplayCacheUnavailable when its jti cannot be
        checked."""
        claims = self._checked_claims(token)
        jkt = bound_key(claims)
        if jkt is None:
            # §7.1 defines the DPoP scheme for DPoP-bound tokens; authserver issues an unbound
            # token with token_type Bearer (§5), so that is how it must be sent (RFC 6750).
            raise InvalidToken("This token is not DPoP-bound: send it with the Bearer scheme.")
        check_proof(self.dpop, request, token, jkt, self._clock)
        return self._access_token(token, claims, live)

    def _checked_claims(self, token: str) -> dict[str, Any]:
        """RFC 9068 §4: header, signature, issuer, audience and times."""
        header = self._header_of(token)
        keys = self._jwks.key_set(header.get("kid"))
        if keys is None:
            raise InvalidToken("The token is signed by a key the issuer does not publish.")
        try:
            decoded = jwt.decode(token, keys, algorithms=[header["alg"]])
            self._registry().validate(decoded.claims)
        except JoseError as error:
            raise InvalidToken(
                f"The token is invalid: {error.description or error.error}"
            ) from None
        except ValueError:
            raise InvalidToken("The token is not a JWT.") from None
        return dict(decoded.claims)

    def _access_token(
        self, token: str, claims: Mapping[str, Any], live: bool | None
    ) -> AccessToken:
        """The typed claims, once /introspect (when asked) says the token is active."""
        try:
            access = parse_claims(claims, self.audience, self._role_permissions)
        except MalformedClaims as error:
            raise InvalidToken(f"The token's claims are malformed: {error}.") from None
        introspector = self._introspector_for(live)
        if introspector is not None and not introspector.is_active(
            self._http, self._endpoint("introspection_endpoint"), token, access.expires_at
        ):
            raise InvalidToken("The token has been revoked.")
        return access

    def _header_of(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("The token is not a JWT.")
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError):
            raise InvalidToken("The token is not a JWT.") from None
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("The token is not an access token (typ).")
        if header.get("alg") not in self._algorithms:
            raise InvalidToken("The token's algorithm is not accepted.")
        return header

    def _registry(self) -> jwt.JWTClaimsRegistry:
        """RFC 9068 §4: iss exactly, aud contains us; exp, nbf and iat (not in the future)
        against the clock with a small leeway."""
        return jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self._leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )

    def _introspector_for(self, live: bool | None) -> Introspector | None:
        """Who asks /introspect for this call, if anyone."""
        if live is None:
            return self._introspector if self._introspect_by_default else None
        if live and self._introspector is None:
            raise ValueError("live checks need Verifier(introspection=ClientCredentials(...))")
        return self._introspector if live else None

    def _endpoint(self, name: str) -> str:
        endpoint = self.metadata.get(name)
        if not isinstance(endpoint, str):
            raise IssuerUnavailable(f"the issuer advertises no {name}")
        return endpoint

    def _fetch_jwks(self, etag: str | None) -> Fetched:
        headers = {"If-None-Match": etag} if etag else {}
        try:
            response = self._http.get(self.metadata["jwks_uri"], headers=headers)
        except httpx.HTTPError as error:
            raise IssuerUnavailable(f"cannot reach {self.issuer}: {error}") from error
        cache_control = response.headers.get("cache-control")
        if response.status_code == 304:
            return Fetched(None, etag, cache_control)
        if response.status_code != 200:
            raise IssuerUnavailable(f"the JWKS endpoint answered {response.status_code}")
        return Fetched(response.json(), response.headers.get("etag"), cache_control)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url)
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise IssuerUnavailable(f"cannot read {url}: {error}") from error
        if not isinstance(found, dict):
            raise IssuerUnavailable(f"{url} is not a JSON object")
        return found
