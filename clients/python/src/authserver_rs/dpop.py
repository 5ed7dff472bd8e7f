"""DPoP at a protected resource (RFC 9449 §7): the proof sent with a DPoP-bound access token
is checked as §4.3 says and must be signed by the key the token is bound to (`cnf.jkt`).

joserfc parses the JWS, imports the proof's JWK, verifies the signature and computes the
RFC 7638 thumbprint; what is here composes the RFC's checks around it, each citing its step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from authserver_rs.errors import InvalidDPoPProof, InvalidToken
from authserver_rs.replay import MemoryReplayCache, ReplayCache

PROOF_TYPE = "dpop+jwt"  # §4.2, §11.5
# §4.3 step 5 and §11.6: asymmetric signatures only, never none or a MAC (HS*). The same
# algorithms authserver accepts at /token, so any key it bound a token to can prove here.
DEFAULT_PROOF_ALGORITHMS = (
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
)  # fmt: skip
ASYMMETRIC = frozenset({*DEFAULT_PROOF_ALGORITHMS, "EdDSA", "ES256K"})
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")  # RFC 7518 §6.2.2, §6.3.2, §6.4
MAX_PROOF_LENGTH = 8000
MAX_JTI_LENGTH = 200  # §11.1: no unnecessarily large jti in the replay store
DEFAULT_PORTS = {"http": 80, "https": 443}


class ProofRegistry(JWSRegistry):
    """joserfc's limits, with room in the header for the public JWK a proof carries (an
    RSA-4096 key is about 1 kB, past joserfc's 512-byte default)."""

    max_header_length = 3000
    max_payload_length = 2000


@dataclass(frozen=True)
class DPoPRequest:
    """What the proof must match in the request that carried it. `url` is the request's URL
    (without query) as the framework rebuilds it; `path` is the same path seen from the
    app's root (without a WSGI SCRIPT_NAME or ASGI root_path); `proofs` are the values of
    every DPoP header."""

    method: str
    url: str
    path: str
    proofs: tuple[str, ...]


@dataclass(frozen=True)
class DPoPPolicy:
    """How proofs are checked. `base_url` is the URL clients reach the app's root at (e.g.
    `https://api.example.com/billing` behind a proxy); without it the request's own URL
    counts, which trusts the Host header. A proof's `iat` may be `max_age` seconds old and
    `future_leeway` seconds ahead. `replay_cache` remembers each proof's jti: in this
    process's memory by default, so several processes need a shared one."""

    base_url: str | None = None
    max_age: int = 60
    future_leeway: int = 5
    algorithms: tuple[str, ...] = DEFAULT_PROOF_ALGORITHMS
    replay_cache: ReplayCache = field(default_factory=MemoryReplayCache)

    def __post_init__(self) -> None:
        if not self.algorithms or not set(self.algorithms) <= ASYMMETRIC:
            raise ValueError(f"DPoP proof algorithms must be asymmetric: {self.algorithms}")
        if self.base_url is not None and normalized_uri(self.base_url) is None:
            raise ValueError(f"base_url must be an absolute http(s) URL: {self.base_url!r}")
        if self.max_age <= 0 or self.future_leeway < 0:
            raise ValueError("max_age must be positive and future_leeway not negative")

    def target_uri(self, request: DPoPRequest) -> str:
        """§4.3 step 9: the URI the proof's htu must name."""
        if self.base_url is None:
            return request.url
        return self.base_url.rstrip("/") + "/" + request.path.lstrip("/")


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """§6.1: the thumbprint a token is bound to (`cnf.jkt`), None for a bearer token.
    Another confirmation method (mTLS's `x5t#S256`) cannot be checked here: refused."""
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if not isinstance(jkt, str) or not jkt:
        raise InvalidToken("The token is sender-constrained in a way this service cannot check.")
    return jkt


def check_proof(
    policy: DPoPPolicy,
    request: DPoPRequest,
    access_token: str,
    jkt: str,
    clock: Callable[[], float] = time.time,
) -> None:
    """§7.1: the request's one DPoP proof passes §4.3 and is signed by the key `jkt` names.
    The jti is remembered last, once everything else holds (§11.1)."""
    if not request.proofs:
        raise InvalidDPoPProof("A DPoP-bound token needs a DPoP proof in the DPoP header.")
    if len(request.proofs) != 1:  # step 1
        raise InvalidDPoPProof("Send exactly one DPoP header.")
    raw = request.proofs[0].strip()
    header = _header(raw, policy.algorithms)
    key = _public_key(header)
    claims = _verified_claims(raw, key, header["alg"])
    jti = _check_claims(claims, request.method, policy.target_uri(request), policy, clock)
    if claims.get("ath") != token_hash(access_token):  # step 12, first half
        raise InvalidDPoPProof("The DPoP proof's ath does not match the access token.")
    proof_jkt = key.thumbprint()  # RFC 7638, SHA-256
    if not hmac.compare_digest(proof_jkt, jkt):  # step 12, second half
        raise InvalidDPoPProof("The DPoP proof is signed by another key than the token's.")
    seen = hashlib.sha256(f"{proof_jkt}:{jti}".encode()).hexdigest()
    if not policy.replay_cache.first_use(seen, policy.max_age + policy.future_leeway):
        raise InvalidDPoPProof("This DPoP proof was already used.")  # §11.1


def _header(raw: str, algorithms: Collection[str]) -> dict[str, Any]:
    """Steps 2, 4 and 5: one compact JWS, typ dpop+jwt, an accepted asymmetric alg."""
    if len(raw) > MAX_PROOF_LENGTH or raw.count(".") != 2:
        raise InvalidDPoPProof("The DPoP proof is not a compact JWS.")
    try:
        header = dict(jws.extract_compact(raw.encode("ascii"), registry=ProofRegistry()).protected)
    except (JoseError, ValueError, UnicodeError):
        raise InvalidDPoPProof("The DPoP proof is not a compact JWS.") from None
    if str(header.get("typ", "")).lower() != PROOF_TYPE:
        raise InvalidDPoPProof("The DPoP proof's typ must be dpop+jwt.")
    if header.get("alg") not in algorithms:
        raise InvalidDPoPProof("The DPoP proof's alg is not one this service accepts.")
    return header


def _public_key(header: Mapping[str, Any]) -> Any:
    """Step 7: `jwk` is a public key; one with private members is refused, not trimmed."""
    found = header.get("jwk")
    if not isinstance(found, dict):
        raise InvalidDPoPProof("The DPoP proof must carry its public key in jwk.")
    if any(member in found for member in PRIVATE_MEMBERS):
        raise InvalidDPoPProof("The DPoP proof's jwk must be a public key.")
    try:
        return JWKRegistry.import_key(found)
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidDPoPProof("The DPoP proof's jwk is not a usable key.") from None


def _verified_claims(raw: str, key: Any, alg: str) -> dict[str, Any]:
    """Step 6: the signature verifies with that key (for that alg, so a key of another type
    than the alg names fails here)."""
    try:
        decoded = jwt.decode(raw, key, algorithms=[alg], registry=ProofRegistry(algorithms=[alg]))
    except (JoseError, ValueError, TypeError):
        raise InvalidDPoPProof("The DPoP proof's signature does not verify.") from None
    return dict(decoded.claims)


def _check_claims(
    claims: Mapping[str, Any],
    method: str,
    uri: str,
    policy: DPoPPolicy,
    clock: Callable[[], float],
) -> str:
    """Steps 3, 8, 9 and 11: jti, htm, htu and a recent iat. Returns the jti."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidDPoPProof("The DPoP proof needs a jti of at most 200 characters.")
    if claims.get("htm") != method:
        raise InvalidDPoPProof("The DPoP proof's htm does not match the request method.")
    htu = claims.get("htu")
    expected = normalized_uri(uri)
    if not isinstance(htu, str) or expected is None or normalized_uri(htu) != expected:
        raise InvalidDPoPProof("The DPoP proof's htu does not match the request URI.")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise InvalidDPoPProof("The DPoP proof needs a numeric iat.")
    now = clock()
    if not now - policy.max_age <= iat <= now + policy.future_leeway:
        raise InvalidDPoPProof("The DPoP proof's iat is too old or in the future.")
    return jti


def normalized_uri(uri: str) -> str | None:
    """Step 9: compared without query and fragment, after RFC 3986 §6.2.2 syntax-based (case,
    percent-encoding) and §6.2.3 scheme-based (default port, empty path) normalization.
    None for what is not an absolute http(s) URI."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, _normalized_path(parts.path) or "/", "", ""))


def _normalized_path(path: str) -> str:
    """Decode percent-encoded unreserved characters, upper-case the other escapes (§6.2.2.1
    and §6.2.2.2), and percent-encode what a URI path cannot hold as it is (§3.3): the
    frameworks hand over the request's path decoded (`/café`, `/a b`) where a client's
    htu has it encoded (`/caf%C3%A9`, `/a%20b`)."""
    out, index = [], 0
    while index < len(path):
        escape = path[index : index + 3]
        if path[index] == "%" and len(escape) == 3 and _is_hex(escape[1:]):
            char = unquote(escape)
            out.append(char if _is_unreserved(char) else escape.upper())
            index += 3
            continue
        char = path[index]
        allowed = _is_unreserved(char) or char in _PATH_DELIMITERS
        out.append(char if allowed else quote(char, safe="", errors="surrogatepass"))
        index += 1
    return "".join(out)


_PATH_DELIMITERS = "!$&'()*+,;=:@/"  # RFC 3986 §3.3 pchar's sub-delims, ":" and "@", and "/"


def _is_unreserved(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "-._~")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def token_hash(access_token: str) -> str:
    """§4.2 `ath`: base64url (unpadded) of the SHA-256 of the access token's ASCII."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
