"""DPoP (RFC 9449): check a request's proof, thumbprint its key, issue nonces, check bindings.

Hand-written checks, because neither Authlib nor joserfc implements RFC 9449: joserfc parses
and verifies the JWS and imports the JWK; the rules of §4.3 around it are ours, each citing
its step. Replayed `jti`s are refused through dpop_replay.py (Redis or the database).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

from authserver.clock import utcnow
from authserver.config import Settings, current_settings
from authserver.oauth import dpop_replay

PROOF_TYPE = "dpop+jwt"  # §4.2
# §4.2: an asymmetric JWS algorithm; never none, never a MAC (HS*).
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
MAX_PROOF_LENGTH = 8000
MAX_JTI_LENGTH = 200
FUTURE_LEEWAY = 5  # seconds a client's clock may run ahead of ours (§11.1)
NONCE_WINDOW = 300  # a server nonce is good for this long and one window more (§8)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
DEFAULT_PORTS = {"http": 80, "https": 443}


class ProofRegistry(JWSRegistry):
    """joserfc's limits, with room in the header for the public JWK a proof carries (an
    RSA-4096 key is about 1 kB, past joserfc's 512-byte default)."""

    max_header_length = 3000
    max_payload_length = 2000


PROOF_REGISTRY = ProofRegistry(algorithms=list(ALGORITHMS))


class ProofRefused(Exception):
    """A proof or a binding does not hold: `error` is the RFC 9449 §12.2 / RFC 6750 code,
    `description` plain ASCII for the client."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def invalid(description: str) -> ProofRefused:
    return ProofRefused("invalid_dpop_proof", description)


@dataclass(frozen=True)
class Proof:
    """A checked proof: the thumbprint of its key (RFC 7638) is what tokens bind to."""

    jkt: str


def check_proof(
    headers: Sequence[str],
    method: str,
    uri: str,
    settings: Settings,
    *,
    access_token: str | None = None,
) -> Proof:
    """RFC 9449 §4.3, in its order; the jti is remembered only once everything else holds."""
    if len(headers) != 1:  # step 1: exactly one DPoP header
        raise invalid("Send exactly one DPoP header.")
    raw = headers[0].strip()
    header = _header(raw)
    key = _public_key(header)
    claims = _verified_claims(raw, key, header["alg"])
    jti = _check_claims(claims, method, uri, settings)
    if settings.dpop_nonce and not is_valid_nonce(claims.get("nonce"), settings):
        raise ProofRefused("use_dpop_nonce", "The DPoP proof must carry the server nonce.")
    if access_token is not None and claims.get("ath") != token_hash(access_token):
        raise invalid("The DPoP proof's ath does not match the access token.")  # step 12
    jkt = key.thumbprint()
    if not dpop_replay.first_use(f"{jkt}:{jti}", settings.dpop_proof_max_age + FUTURE_LEEWAY):
        raise invalid("This DPoP proof was already used.")  # step 11 and §11.1
    return Proof(jkt=jkt)


def _header(raw: str) -> dict[str, Any]:
    """Steps 2 to 5: one well-formed JWS whose typ is dpop+jwt and whose alg is asymmetric."""
    if len(raw) > MAX_PROOF_LENGTH or raw.count(".") != 2:
        raise invalid("The DPoP proof is not a compact JWS.")
    try:
        header = dict(jws.extract_compact(raw.encode("ascii"), registry=PROOF_REGISTRY).protected)
    except (JoseError, ValueError, UnicodeError):
        raise invalid("The DPoP proof is not a compact JWS.") from None
    if header.get("typ") != PROOF_TYPE:
        raise invalid("The DPoP proof's typ must be dpop+jwt.")
    if header.get("alg") not in ALGORITHMS:
        raise invalid("The DPoP proof's alg must be an asymmetric algorithm this server knows.")
    return header


def _public_key(header: Mapping[str, Any]) -> Any:
    """Step 7: `jwk` is a public key, never one with private members."""
    found = header.get("jwk")
    if not isinstance(found, dict):
        raise invalid("The DPoP proof must carry its public key in jwk.")
    if any(member in found for member in PRIVATE_MEMBERS):
        raise invalid("The DPoP proof's jwk must be a public key.")
    try:
        return JWKRegistry.import_key(found)
    except (JoseError, ValueError, TypeError, KeyError):
        raise invalid("The DPoP proof's jwk is not a usable key.") from None


def _verified_claims(raw: str, key: Any, alg: str) -> dict[str, Any]:
    """Step 6: the signature verifies with that key."""
    try:
        return dict(jwt.decode(raw, key, algorithms=[alg], registry=PROOF_REGISTRY).claims)
    except (JoseError, ValueError, TypeError):
        raise invalid("The DPoP proof's signature does not verify.") from None


def _check_claims(claims: Mapping[str, Any], method: str, uri: str, settings: Settings) -> str:
    """Steps 8 to 11: jti, htm, htu and a fresh iat. Returns the jti."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise invalid("The DPoP proof needs a jti of at most 200 characters.")
    if claims.get("htm") != method:
        raise invalid("The DPoP proof's htm does not match the request method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_uri(htu) != normalized_uri(uri):
        raise invalid("The DPoP proof's htu does not match the request URI.")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise invalid("The DPoP proof needs a numeric iat.")
    now = utcnow().timestamp()
    if not now - settings.dpop_proof_max_age <= iat <= now + FUTURE_LEEWAY:
        raise invalid("The DPoP proof's iat is too old or in the future.")
    return jti


def normalized_uri(uri: str) -> str | None:
    """Step 9: compare without query and fragment, after RFC 3986 §6.2.2 (case, percent-
    encoding of unreserved characters) and §6.2.3 (default port, empty path) normalisation.
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
    """Decode percent-encoded unreserved characters and upper-case the others (§6.2.2.1-2)."""
    out, index = [], 0
    while index < len(path):
        if path[index] == "%" and _is_hex(path[index + 1 : index + 3]):
            char = unquote(path[index : index + 3])
            unreserved = char.isascii() and (char.isalnum() or char in "-._~")
            out.append(char if unreserved else path[index : index + 3].upper())
            index += 3
            continue
        out.append(path[index])
        index += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text)


def token_hash(access_token: str) -> str:
    """§4.2 `ath`: base64url of the SHA-256 of the access token's ASCII."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# ---- server nonces (§8): stateless, so that any instance sharing the secret key accepts them


def new_nonce(settings: Settings) -> str:
    return _nonce_for(int(utcnow().timestamp()) // NONCE_WINDOW, settings)


def _nonce_for(window: int, settings: Settings) -> str:
    mac = hmac.new(settings.secret_key.encode(), f"dpop-nonce:{window}".encode(), "sha256")
    return f"{window}.{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"


def is_valid_nonce(nonce: object, settings: Settings) -> bool:
    """The nonce of this window or the one before: good for 5 to 10 minutes."""
    if not isinstance(nonce, str):
        return False
    window = int(utcnow().timestamp()) // NONCE_WINDOW
    return any(hmac.compare_digest(nonce, _nonce_for(w, settings)) for w in (window, window - 1))


# ---- this request


def request_uri() -> str:
    """The URI the proof must name: our public issuer URL (the server may sit behind a
    proxy that rewrites the host) plus the path, without the query (step 9)."""
    return current_settings().issuer.rstrip("/") + request.path


ENVIRON_KEY = "authserver.dpop_proof"


def check_token_request() -> None:
    """Check this /token request's proof, if it sends one, before Authlib runs the grant
    (so before any row is locked: the jti record commits), and keep it for the grant."""
    headers = request.headers.getlist("DPoP")
    if headers:
        proof = check_proof(headers, request.method, request_uri(), current_settings())
        request.environ[ENVIRON_KEY] = proof


def token_request_proof() -> Proof | None:
    """The proof check_token_request() accepted, None when the request sent none."""
    return request.environ.get(ENVIRON_KEY)


def check_presentation(scheme: str, raw_token: str, claims: Mapping[str, Any]) -> None:
    """§7: a bound token comes with the DPoP scheme and a proof by its key for this request
    (with `ath`); a bound token sent as Bearer is refused (§7.2), as is an unbound token
    sent as DPoP."""
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    scheme = scheme.lower()
    if scheme == "bearer":
        if bound is not None:
            raise ProofRefused("invalid_token", "This token is DPoP-bound: use the DPoP scheme.")
        return
    if bound is None:
        raise ProofRefused("invalid_token", "This token is not DPoP-bound: use Bearer.")
    headers = request.headers.getlist("DPoP")
    if not headers:
        raise invalid("A DPoP-bound token needs a DPoP proof.")
    proof = check_proof(
        headers, request.method, request_uri(), current_settings(), access_token=raw_token
    )
    if not hmac.compare_digest(proof.jkt, bound):
        raise invalid("The DPoP proof is signed by another key than the token is bound to.")


class TokenEndpointError(OAuth2Error):
    """A refused proof at /token: 400 with the §12.2 code, and a nonce when one is needed."""

    status_code = 400

    def __init__(self, refused: ProofRefused) -> None:
        super().__init__(description=refused.description, error=refused.error)
        self.refused = refused

    def get_headers(self) -> list[tuple[str, str]]:
        return super().get_headers() + list(nonce_headers(self.refused).items())


def challenge(refused: ProofRefused | None = None) -> str:
    """§7.1: the DPoP WWW-Authenticate challenge, with the algorithms we accept."""
    value = f'DPoP algs="{" ".join(ALGORITHMS)}"'
    if refused is not None:
        value += f', error="{refused.error}", error_description="{refused.description}"'
    return value


def nonce_headers(refused: ProofRefused) -> dict[str, str]:
    """§8 and §9: a use_dpop_nonce refusal carries the nonce to use."""
    if refused.error != "use_dpop_nonce":
        return {}
    return {"DPoP-Nonce": new_nonce(current_settings())}
