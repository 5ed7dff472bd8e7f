"""KeyStore: generation, JWKS, publish-before-sign rotation, retirement, reload from disk."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authserver import keys
from authserver.keys import PRIVATE_MEMBERS, KeySchedule, KeyStore, KeyStoreError

SCHEDULE = KeySchedule(publish_delay=timedelta(minutes=5), retire_grace=timedelta(minutes=11))


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def store(keys_dir: Path) -> KeyStore:
    return KeyStore(keys_dir, SCHEDULE, reload_interval=0)


def rfc7638_thumbprint(public: dict[str, str]) -> str:
    """Computed independently of joserfc: required members, sorted, no spaces, SHA-256."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),  # RFC 8037 §2
    }[public["kty"]]
    canonical = json.dumps({name: public[name] for name in required}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_generated_key_is_a_private_file_named_by_its_thumbprint(
    store: KeyStore, keys_dir: Path, alg: str
) -> None:
    key = store.generate(alg)
    path = keys_dir / f"{key.kid}.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert key.kid == rfc7638_thumbprint(key.public_jwk())
    assert json.loads(path.read_text())["alg"] == alg
    assert [p.name for p in keys_dir.iterdir() if p.name.startswith(".tmp")] == []


def test_jwks_has_public_members_only(store: KeyStore) -> None:
    store.generate("RS256")
    store.generate("ES256")
    published = store.jwks()["keys"]
    assert len(published) == 2
    for jwk in published:
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig" and jwk["kid"] and jwk["alg"] in ("RS256", "ES256")


def test_first_key_signs_at_once_and_verifies_against_the_jwks(store: KeyStore) -> None:
    key = store.generate()
    token = store.sign({"sub": "someone"}, typ="at+jwt")
    verified = jwt.decode(token, KeySet.import_key_set(store.jwks()), algorithms=["RS256"])
    assert verified.header["kid"] == key.kid
    assert verified.header["typ"] == "at+jwt"
    assert verified.claims == {"sub": "someone"}


@pytest.mark.parametrize(("alg", "kty"), [("ES256", "EC"), ("EdDSA", "OKP")])
def test_other_algorithms_sign_tokens_a_verifier_accepts(
    store: KeyStore, alg: str, kty: str
) -> None:
    key = store.generate(alg)
    token = store.sign({"sub": "someone"})
    published = store.jwks()["keys"]
    verified = jwt.decode(token, KeySet.import_key_set(store.jwks()), algorithms=[alg])
    assert verified.header == {"alg": alg, "kid": key.kid, "typ": "JWT"}
    assert [(k["kty"], k["alg"]) for k in published] == [(kty, alg)]
    assert store.verify(token).claims == {"sub": "someone"}


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens KeyStore.verify checked with joserfc, rather than answered from memory."""
    checked: list[str] = []
    real = keys.jwt.decode

    def decode(token: str, *args: Any, **kwargs: Any) -> jwt.Token:
        checked.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(keys.jwt, "decode", decode)
    return checked


AT = "at+jwt"


def test_a_token_that_verified_is_answered_from_memory(store: KeyStore, decodes: list[str]) -> None:
    store.generate()
    token = store.sign({"sub": "someone"}, typ=AT)
    first, again = (store.verify(token, remember_typ=AT) for _ in range(2))
    assert decodes == [token]
    assert (again.header, again.claims) == (first.header, first.claims)
    assert again.claims == {"sub": "someone"} and again.header["typ"] == AT


def test_only_tokens_of_the_named_type_are_remembered(store: KeyStore, decodes: list[str]) -> None:
    store.generate()
    id_token, access_token = store.sign({"sub": "a"}), store.sign({"sub": "a"}, typ=AT)
    for _ in range(2):
        store.verify(id_token, remember_typ=AT)  # an ID token where an access token belongs
        store.verify(access_token)  # a caller that asks for nothing to be remembered
    assert decodes == [id_token, access_token] * 2


def test_a_token_that_failed_is_checked_every_time(store: KeyStore, decodes: list[str]) -> None:
    store.generate()
    token = store.sign({"sub": "someone"}, typ=AT)
    store.verify(token, remember_typ=AT)
    forged = token[: token.rindex(".") + 1] + "A" * 342
    for _ in range(2):
        with pytest.raises((JoseError, ValueError)):
            store.verify(forged, remember_typ=AT)
    assert decodes == [token, forged, forged]


def test_each_caller_gets_a_header_and_claims_of_its_own(store: KeyStore) -> None:
    store.generate()
    token = store.sign({"sub": "someone", "orgs": [{"slug": "acme", "roles": ["viewer"]}]}, typ=AT)
    store.verify(token, remember_typ=AT).claims["orgs"][0]["roles"].append("owner")
    store.verify(token, remember_typ=AT).header["kid"] = "another"
    again = store.verify(token, remember_typ=AT)
    assert again.claims["orgs"] == [{"slug": "acme", "roles": ["viewer"]}]
    assert again.header["kid"] != "another"


def test_a_remembered_token_fails_once_its_key_is_unpublished(store: KeyStore) -> None:
    old = store.generate()
    token = store.sign({"sub": "someone"}, typ=AT)
    assert store.verify(token, remember_typ=AT).claims == {"sub": "someone"}
    store.rotate(immediately=True)
    assert store.verify(token, remember_typ=AT).claims == {"sub": "someone"}  # still published
    store.retire(old.kid, immediately=True)
    with pytest.raises((JoseError, ValueError)):
        store.verify(token, remember_typ=AT)


def test_a_remembered_token_fails_when_its_retired_key_leaves_the_jwks(
    store: KeyStore, move_clock: Callable[..., None]
) -> None:
    old = store.generate()
    token = store.sign({"sub": "someone"}, typ=AT)
    store.rotate(immediately=True)  # the old key is retired, published for its tokens
    assert old.kid in {jwk["kid"] for jwk in store.jwks()["keys"]}
    assert store.verify(token, remember_typ=AT).claims == {"sub": "someone"}
    move_clock(minutes=12)  # past the retire grace: no file changed, only the time
    with pytest.raises((JoseError, ValueError)):
        store.verify(token, remember_typ=AT)


def test_a_remembered_token_fails_in_another_process_once_its_key_file_is_gone(
    keys_dir: Path,
) -> None:
    worker = KeyStore(keys_dir, SCHEDULE, reload_interval=0)
    old = worker.generate()
    token = worker.sign({"sub": "someone"}, typ=AT)
    worker.rotate(immediately=True)
    assert worker.verify(token, remember_typ=AT).claims == {"sub": "someone"}
    (keys_dir / f"{old.kid}.json").unlink()
    with pytest.raises((JoseError, ValueError)):
        worker.verify(token, remember_typ=AT)


def test_the_least_recently_used_token_is_forgotten_first(
    store: KeyStore, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "VERIFIED_TOKENS_KEPT", 2)
    store.generate()
    first, second, third = (store.sign({"sub": name}, typ=AT) for name in ("a", "b", "c"))
    for token in (first, second, first, third):  # the third pushes out the second
        store.verify(token, remember_typ=AT)
    assert decodes == [first, second, third]
    store.verify(first, remember_typ=AT)
    store.verify(second, remember_typ=AT)
    assert decodes == [first, second, third, second]


def test_a_long_token_is_not_remembered(
    store: KeyStore, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.generate()
    short, long = store.sign({"sub": "a"}, typ=AT), store.sign({"sub": "a" * 600}, typ=AT)
    monkeypatch.setattr(keys, "VERIFIED_TOKEN_MAX_LENGTH", len(short))
    for _ in range(2):
        store.verify(short, remember_typ=AT)
        store.verify(long, remember_typ=AT)
    assert decodes == [short, long, long]


def test_no_key_means_no_signing(store: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="no active signing key"):
        store.sign({"sub": "x"})


def test_rotation_publishes_the_new_key_before_it_signs(
    store: KeyStore, move_clock: Callable[..., None]
) -> None:
    old = store.generate()
    new, retired = store.rotate()
    assert [key.kid for key in retired] == [old.kid]
    published = {jwk["kid"] for jwk in store.jwks()["keys"]}
    assert published == {old.kid, new.kid}
    assert store.signing_key().kid == old.kid  # the new key is only published so far

    move_clock(minutes=5, seconds=1)
    assert store.signing_key().kid == new.kid
    assert old.kid in {jwk["kid"] for jwk in store.jwks()["keys"]}  # its tokens still verify


def test_retired_key_leaves_the_jwks_after_its_tokens_expire(
    store: KeyStore, move_clock: Callable[..., None]
) -> None:
    old = store.generate()
    store.rotate()
    move_clock(minutes=5 + 10)
    assert old.kid in {jwk["kid"] for jwk in store.jwks()["keys"]}
    move_clock(minutes=2)
    assert old.kid not in {jwk["kid"] for jwk in store.jwks()["keys"]}
    assert store.prune() == [old.kid]
    assert len(store.keys()) == 1


def test_rotate_now_signs_with_the_new_key_at_once_and_keeps_the_old_published(
    store: KeyStore,
) -> None:
    old = store.generate()
    new, _ = store.rotate(immediately=True)
    assert store.signing_key().kid == new.kid
    assert old.kid in {jwk["kid"] for jwk in store.jwks()["keys"]}


def test_a_second_generated_key_waits_for_the_publish_delay(
    store: KeyStore, move_clock: Callable[..., None]
) -> None:
    first = store.generate()
    second = store.generate("ES256")
    assert store.signing_key().kid == first.kid
    move_clock(minutes=6)
    assert store.signing_key().kid == second.kid


def test_retiring_the_only_signing_key_is_refused(store: KeyStore) -> None:
    key = store.generate()
    with pytest.raises(KeyStoreError, match="only key that can sign"):
        store.retire(key.kid)


def test_retire_stops_signing_and_keeps_the_key_published_for_its_tokens(
    store: KeyStore, move_clock: Callable[..., None]
) -> None:
    first = store.generate()
    second = store.generate()
    move_clock(minutes=6)
    store.retire(first.kid)
    assert store.signing_key().kid == second.kid
    assert first.kid in {jwk["kid"] for jwk in store.jwks()["keys"]}
    with pytest.raises(KeyStoreError, match="already retired"):
        store.retire(first.kid)
    move_clock(minutes=12)
    assert first.kid not in {jwk["kid"] for jwk in store.jwks()["keys"]}


def test_retire_now_unpublishes_a_compromised_key(store: KeyStore) -> None:
    old = store.generate()
    store.rotate(immediately=True)
    store.retire(old.kid, immediately=True)
    assert old.kid not in {jwk["kid"] for jwk in store.jwks()["keys"]}


def test_unknown_kid_is_a_clear_error(store: KeyStore) -> None:
    store.generate()
    with pytest.raises(KeyStoreError, match="no key 'nope'"):
        store.retire("nope")


def test_a_second_process_sees_a_rotation_without_restarting(keys_dir: Path) -> None:
    worker = KeyStore(keys_dir, SCHEDULE, reload_interval=0)
    operator = KeyStore(keys_dir, SCHEDULE, reload_interval=0)
    first = operator.generate()
    assert worker.signing_key().kid == first.kid
    second, _ = operator.rotate(immediately=True)
    assert worker.signing_key().kid == second.kid
    assert {jwk["kid"] for jwk in worker.jwks()["keys"]} == {first.kid, second.kid}


def test_reload_waits_for_the_interval(keys_dir: Path) -> None:
    worker = KeyStore(keys_dir, SCHEDULE, reload_interval=3600)
    assert worker.keys() == ()
    KeyStore(keys_dir, SCHEDULE, reload_interval=0).generate()
    assert worker.keys() == ()  # checked less than an interval ago: served from memory


def test_jwks_etag_changes_only_with_the_published_set(store: KeyStore) -> None:
    store.generate()
    body, etag = store.jwks_document()
    assert store.jwks_document() == (body, etag)
    store.rotate()
    new_body, new_etag = store.jwks_document()
    assert new_etag != etag and len(json.loads(new_body)["keys"]) == 2


def test_a_corrupt_key_file_is_named_in_the_error(store: KeyStore, keys_dir: Path) -> None:
    store.generate()
    (keys_dir / "broken.json").write_text("{not json")
    os.chmod(keys_dir / "broken.json", 0o600)
    with pytest.raises(KeyStoreError, match="broken.json is not a valid key"):
        store.keys()


def test_a_key_whose_kid_is_not_its_thumbprint_is_refused(store: KeyStore, keys_dir: Path) -> None:
    key = store.generate()
    path = keys_dir / f"{key.kid}.json"
    data = json.loads(path.read_text())
    data["kid"] = "forged"
    path.write_text(json.dumps(data))
    with pytest.raises(KeyStoreError, match="thumbprint"):
        store.keys()


def test_a_public_only_key_file_is_refused(store: KeyStore, keys_dir: Path) -> None:
    key = store.generate()
    path = keys_dir / f"{key.kid}.json"
    data = json.loads(path.read_text())
    data["jwk"] = {k: v for k, v in data["jwk"].items() if k not in PRIVATE_MEMBERS}
    path.write_text(json.dumps(data))
    with pytest.raises(KeyStoreError, match="no private part"):
        store.keys()


def test_strict_mode_refuses_a_key_file_others_can_read(keys_dir: Path) -> None:
    key = KeyStore(keys_dir, SCHEDULE, reload_interval=0).generate()
    os.chmod(keys_dir / f"{key.kid}.json", 0o644)
    lenient = KeyStore(keys_dir, SCHEDULE, reload_interval=0)
    assert lenient.signing_key().kid == key.kid
    strict = KeyStore(keys_dir, SCHEDULE, reload_interval=0, strict_permissions=True)
    with pytest.raises(KeyStoreError, match="readable by others"):
        strict.keys()


def test_a_keys_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "keys"
    not_a_dir.write_text("")
    store = KeyStore(not_a_dir, SCHEDULE, reload_interval=0)
    with pytest.raises(KeyStoreError, match="AUTHSERVER_KEYS_DIR: cannot read"):
        store.keys()
    with pytest.raises(KeyStoreError, match="AUTHSERVER_KEYS_DIR: cannot create"):
        store.generate()


def test_a_failed_write_leaves_nothing_behind(
    store: KeyStore, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.generate()
    before = sorted(p.name for p in keys_dir.iterdir())

    def fail(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", fail)
    with pytest.raises(OSError):
        store.rotate()
    assert sorted(p.name for p in keys_dir.iterdir()) == before
