"""Key store in keys/: generate, rotate and retire signing keys, publish the JWKS, sign JWTs.

Each key is one JSON file, `<kid>.json` (mode 0600, written atomically), holding the private
JWK and its schedule. Every worker and every instance that shares the directory reads the
same files, and each reloads them when the directory changes, so a rotation done with the
CLI is picked up without a restart.

A key's life, by its timestamps:
  pending   published, not signing yet (activates_at is in the future)
  active    may sign; the newest active key is the one that does
  retired   published, no longer signing, until every token it signed has expired
  expired   no longer published (`authserver keys prune` deletes the file)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from authserver.clock import utcnow

log = logging.getLogger(__name__)

# RS256 is what every client library verifies; ES256 and EdDSA (Ed25519, RFC 8037) sign
# five times faster with smaller tokens (README "Signing algorithms"). RFC 9864 deprecates
# the name "EdDSA" for the fully specified "Ed25519", but few verifiers accept the new name
# yet, so we publish "EdDSA" for Ed25519 keys.
ALGORITHMS = ("RS256", "ES256", "EdDSA")
DEFAULT_ALGORITHM = "RS256"
RSA_KEY_SIZE = 2048
CLOCK_SKEW = timedelta(seconds=60)
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

Key = RSAKey | ECKey | OKPKey

# joserfc warns on every use of "EdDSA" (RFC 9864); choosing it is the operator's decision.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)


class KeyStoreError(Exception):
    """The keys directory or a key file cannot be used; the message is one line."""


@dataclass(frozen=True)
class SigningKey:
    """One private key and its schedule."""

    kid: str
    alg: str
    key: Key
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None
    publish_until: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.publish_until is not None and now >= self.publish_until:
            return "expired"
        if self.retired_at is not None and now >= self.retired_at:
            return "retired"
        if now < self.activates_at:
            return "pending"
        return "active"

    def public_jwk(self) -> dict[str, Any]:
        jwk = self.key.as_dict(private=False)
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk

    def to_file(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "created_at": self.created_at.isoformat(),
            "activates_at": self.activates_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "publish_until": self.publish_until.isoformat() if self.publish_until else None,
            "jwk": self.key.as_dict(private=True),
        }

    @classmethod
    def from_file(cls, data: Mapping[str, Any]) -> SigningKey:
        alg = data["alg"]
        if alg not in ALGORITHMS:
            raise ValueError(f"unsupported alg {alg!r}")
        key = _key_class(alg).import_key(dict(data["jwk"]))
        if not key.is_private:
            raise ValueError("the key has no private part")
        kid = key.thumbprint()
        if kid != data["kid"]:
            raise ValueError("kid is not the key's RFC 7638 thumbprint")
        return cls(
            kid=kid,
            alg=alg,
            key=key,
            created_at=datetime.fromisoformat(data["created_at"]),
            activates_at=datetime.fromisoformat(data["activates_at"]),
            retired_at=_optional_time(data.get("retired_at")),
            publish_until=_optional_time(data.get("publish_until")),
        )


def _optional_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _key_class(alg: str) -> type[RSAKey] | type[ECKey] | type[OKPKey]:
    return {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}[alg]


def new_key(alg: str) -> Key:
    if alg == "RS256":
        return RSAKey.generate_key(RSA_KEY_SIZE)
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise KeyStoreError(f"alg: must be one of {', '.join(ALGORITHMS)} (got {alg!r})")


@dataclass(frozen=True)
class KeySchedule:
    """How long a new key is published before it signs, and a retired one after it stops."""

    publish_delay: timedelta
    retire_grace: timedelta


# What a process remembers of verified tokens (_Verifier): at most this many, each at most
# this long, so about 15 MB (the token and its header and claims as JSON) in the worst case.
VERIFIED_TOKENS_KEPT = 1024
VERIFIED_TOKEN_MAX_LENGTH = 8192


class _Verifier:
    """The published keys as one KeySet, and the tokens that verified against exactly it.

    Remembering a verified token cannot change an answer: the same bytes against the same
    keys verify the same way. A key published, expired past its tokens' lifetime, retired
    at once or removed from disk changes the set of kids, and with it the KeyStore's
    verifier, which starts with nothing remembered: a key taken away takes its tokens'
    verification with it. (A kid is its key's thumbprint, so one kid never names two
    keys.) Only tokens that verified are kept, which a stranger cannot make without our
    keys; the least recently used is forgotten past VERIFIED_TOKENS_KEPT."""

    def __init__(self, kids: tuple[str, ...], key_set: KeySet) -> None:
        self.kids = kids
        self.key_set = key_set
        # token -> its header and its claims, as JSON text: each caller reads its own copy
        self._known: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, token: str) -> jwt.Token | None:
        with self._lock:
            known = self._known.get(token)
            if known is None:
                return None
            self._known.move_to_end(token)
        header, claims = known
        return jwt.Token(json.loads(header), json.loads(claims))

    def remember(self, token: str, verified: jwt.Token) -> None:
        if len(token) > VERIFIED_TOKEN_MAX_LENGTH:
            return
        entry = (json.dumps(verified.header), json.dumps(verified.claims))
        with self._lock:
            self._known[token] = entry
            self._known.move_to_end(token)
            while len(self._known) > VERIFIED_TOKENS_KEPT:
                self._known.popitem(last=False)


class KeyStore:
    """The signing keys of one directory, cached in memory and reloaded when it changes."""

    def __init__(
        self,
        directory: Path,
        schedule: KeySchedule,
        *,
        reload_interval: float = 1.0,
        strict_permissions: bool = False,
    ) -> None:
        self.directory = directory
        self.schedule = schedule
        self.reload_interval = reload_interval
        self.strict_permissions = strict_permissions
        self._lock = threading.Lock()
        self._keys: tuple[SigningKey, ...] = ()
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = float("-inf")
        self._jwks_cache: tuple[tuple[str, ...], bytes, str] | None = None
        self._verifier: _Verifier | None = None

    # ---- reading -------------------------------------------------------------------------

    def keys(self) -> tuple[SigningKey, ...]:
        """All keys on disk, oldest first, reloaded if the directory changed."""
        if time.monotonic() - self._checked_at >= self.reload_interval:
            self._reload_if_changed()
        return self._keys

    def find(self, kid: str) -> SigningKey:
        for key in self.keys():
            if key.kid == kid:
                return key
        raise KeyStoreError(f"KID: no key {kid!r} in {self.directory}")

    def published(self, now: datetime | None = None) -> list[SigningKey]:
        now = now or utcnow()
        return [key for key in self.keys() if key.state(now) != "expired"]

    def signing_key(self, now: datetime | None = None) -> SigningKey:
        """The newest active key. Raises KeyStoreError when there is none."""
        now = now or utcnow()
        active = [key for key in self.keys() if key.state(now) == "active"]
        if not active:
            raise KeyStoreError(f"no active signing key in {self.directory} (run: authserver init)")
        return max(active, key=lambda key: (key.activates_at, key.created_at))

    def jwks(self, now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [key.public_jwk() for key in self.published(now)]}

    def jwks_document(self, now: datetime | None = None) -> tuple[bytes, str]:
        """The JWKS bytes and their ETag (unquoted); rebuilt only when the published set changes."""
        published = self.published(now)
        kids = tuple(key.kid for key in published)
        cached = self._jwks_cache
        if cached is not None and cached[0] == kids:
            return cached[1], cached[2]
        body = json.dumps(
            {"keys": [key.public_jwk() for key in published]}, separators=(",", ":")
        ).encode()
        etag = hashlib.sha256(body).hexdigest()[:32]
        self._jwks_cache = (kids, body, etag)
        return body, etag

    def verify(self, token: str, *, remember_typ: str | None = None) -> jwt.Token:
        """Check a JWT's signature against the published keys; claims are the caller's to check.

        Raises JoseError (or ValueError for a malformed token) when it does not verify.

        A token of `remember_typ` that verified is remembered while the published keys stay
        the same (see _Verifier): a resource server introspects the same access token, or
        sends it to /userinfo, for every call it serves, and the signature check with
        joserfc's parsing was a fifth of either (benchmarks/RESULTS.md). Naming the type
        keeps other tokens (an ID token sent where an access token belongs) from taking
        the access tokens' places. Each caller gets a header and claims of its own."""
        published = self.published()
        kids = tuple(key.kid for key in published)
        verifier = self._verifier
        if verifier is None or verifier.kids != kids:
            key_set = KeySet.import_key_set({"keys": [key.public_jwk() for key in published]})
            verifier = self._verifier = _Verifier(kids, key_set)
        if remember_typ is not None and (known := verifier.recall(token)) is not None:
            return known
        verified = jwt.decode(token, verifier.key_set, algorithms=list(ALGORITHMS))
        if remember_typ is not None and verified.header.get("typ") == remember_typ:
            verifier.remember(token, verified)
        return verified

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        key = self.signing_key()
        header = {"alg": key.alg, "kid": key.kid, "typ": typ}
        return jwt.encode(header, dict(claims), key.key, algorithms=[key.alg])

    # ---- writing (the CLI) ---------------------------------------------------------------

    def generate(self, alg: str = DEFAULT_ALGORITHM) -> SigningKey:
        """Write a new key beside the others. The first key signs at once; any later one only
        after the publish delay, so that no relying party meets a kid it has not fetched."""
        now = utcnow()
        with self._writing():
            is_first = not self.published(now)
            activates_at = now if is_first else now + self.schedule.publish_delay
            key = self._new_key(alg, now, activates_at)
            self._write(key)
        return key

    def rotate(
        self, alg: str = DEFAULT_ALGORITHM, *, immediately: bool = False
    ) -> tuple[SigningKey, list[SigningKey]]:
        """Publish a new key now, let it sign after the publish delay, retire the old ones then.

        DESIGN "Keys": relying parties that cached the JWKS must see the new key before any
        token is signed with it, and keep the old one until its tokens have expired.
        """
        now = utcnow()
        activates_at = now if immediately else now + self.schedule.publish_delay
        with self._writing():
            current = [key for key in self.keys() if key.state(now) in ("active", "pending")]
            new = self._new_key(alg, now, activates_at)
            self._write(new)
            retired = [self._retire(key, activates_at, now) for key in current]
        return new, retired

    def retire(self, kid: str, *, immediately: bool = False) -> SigningKey:
        """Stop signing with a key. It stays published for the retire grace unless
        `immediately` (a compromised key), which also unpublishes it at once."""
        now = utcnow()
        with self._writing():
            key = self.find(kid)
            state = key.state(now)
            if state == "expired" or (state == "retired" and not immediately):
                raise KeyStoreError(f"KID: {kid} is already {state}")
            if state == "retired":  # compromised after its retirement: unpublish it now
                return self._retire(key, now, now, immediately=True)
            others = [k for k in self.keys() if k.kid != kid and k.state(now) == "active"]
            if not others:
                raise KeyStoreError(
                    f"KID: {kid} is the only key that can sign now; rotate first, "
                    "and retire it once the new key is active"
                )
            retired = self._retire(key, now, now, immediately=immediately)
        return retired

    def prune(self) -> list[str]:
        """Delete the files of keys that are no longer published."""
        now = utcnow()
        with self._writing():
            expired = [key for key in self.keys() if key.state(now) == "expired"]
            for key in expired:
                (self.directory / f"{key.kid}.json").unlink(missing_ok=True)
            self._checked_at = float("-inf")
        return [key.kid for key in expired]

    def ensure_key(self, alg: str = DEFAULT_ALGORITHM) -> SigningKey | None:
        """Make a first key if no key could sign now or later; return it, or None."""
        now = utcnow()
        if any(key.state(now) in ("active", "pending") for key in self.keys()):
            return None
        return self.generate(alg)

    # ---- internals -----------------------------------------------------------------------

    def _new_key(self, alg: str, now: datetime, activates_at: datetime) -> SigningKey:
        key = new_key(alg)
        return SigningKey(key.thumbprint(), alg, key, now, activates_at)

    def _retire(
        self, key: SigningKey, when: datetime, now: datetime, *, immediately: bool = False
    ) -> SigningKey:
        retired_at = min(key.retired_at or when, when)
        publish_until = now if immediately else retired_at + self.schedule.retire_grace
        updated = replace(key, retired_at=retired_at, publish_until=publish_until)
        self._write(updated)
        return updated

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer at a time across processes (two operators rotating at once)."""
        self._ensure_directory()
        lock_path = self.directory / ".lock"
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._checked_at = float("-inf")
                self.keys()
                yield
            finally:
                self._checked_at = float("-inf")
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise KeyStoreError(
                f"AUTHSERVER_KEYS_DIR: cannot create {self.directory} ({error.strerror})"
            ) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise KeyStoreError(f"AUTHSERVER_KEYS_DIR: {self.directory} is not writable")

    def _write(self, key: SigningKey) -> None:
        """Write atomically (temp file, fsync, rename) with mode 0600 from the first byte."""
        target = self.directory / f"{key.kid}.json"
        fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(key.to_file(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)

    def _fingerprint_now(self) -> tuple[tuple[str, int, int], ...]:
        try:
            entries = sorted(
                (entry.name, entry.stat().st_mtime_ns, entry.stat().st_size)
                for entry in os.scandir(self.directory)
                if entry.name.endswith(".json") and not entry.name.startswith(".")
            )
        except FileNotFoundError:
            return ()
        except OSError as error:
            raise KeyStoreError(
                f"AUTHSERVER_KEYS_DIR: cannot read {self.directory} ({error.strerror})"
            ) from None
        return tuple(entries)

    def _reload_if_changed(self) -> None:
        with self._lock:
            fingerprint = self._fingerprint_now()
            if fingerprint != self._fingerprint:
                self._keys = tuple(
                    sorted(
                        (self._load(self.directory / name) for name, _, _ in fingerprint),
                        key=lambda key: (key.created_at, key.kid),
                    )
                )
                self._fingerprint = fingerprint
                log.info("loaded %d signing key(s) from %s", len(self._keys), self.directory)
            self._checked_at = time.monotonic()

    def _load(self, path: Path) -> SigningKey:
        try:
            mode = path.stat().st_mode
            text = path.read_bytes().decode("utf-8")
        except OSError as error:
            raise KeyStoreError(f"key file: cannot read {path} ({error.strerror})") from None
        except UnicodeDecodeError:
            raise KeyStoreError(f"key file: {path} is not UTF-8 text") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            if self.strict_permissions:
                raise KeyStoreError(f"key file: {path} is readable by others (chmod 600 it)")
            log.warning("key file %s is readable by others; chmod 600 it", path)
        try:
            return SigningKey.from_file(json.loads(text))
        except (ValueError, KeyError, TypeError, JoseError) as error:
            raise KeyStoreError(f"key file: {path} is not a valid key ({error})") from None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_key_store() -> KeyStore:
    """The running app's key store (one per process, shared by its threads)."""
    from flask import current_app

    return current_app.extensions["authserver.keys"]
