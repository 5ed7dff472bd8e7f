"""`authserver clients create|update` for the device grant, PAR and private_key_jwt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from tests.cli.conftest import Operator, one_line_error

PUBLIC_JWKS = {"keys": [RSAKey.generate_key(2048, parameters={"kid": "k1"}).as_dict(private=False)]}


def create(op: Operator, *options: str) -> dict:
    return json.loads(op.ok("clients", "create", "--name", "Tool", "--json", *options))


def test_a_device_cli_is_a_public_client_with_the_device_grant(initialized: Operator) -> None:
    client = create(
        initialized, "--public", "--grant-type", "device_code", "--grant-type", "refresh_token"
    )
    assert client["grant_types"] == [
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ]
    assert client["client_secret"] is None and "openid" in client["scopes"]


def test_a_private_key_jwt_client_registers_its_keys_from_a_file_and_gets_no_secret(
    initialized: Operator, tmp_path: Path
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(PUBLIC_JWKS))
    client = create(
        initialized, "--redirect-uri", "https://a.example/cb",
        "--auth-method", "private_key_jwt", "--jwks", str(jwks),
    )  # fmt: skip
    assert client["client_secret"] is None
    assert client["token_endpoint_auth_method"] == "private_key_jwt"
    assert client["jwks"] == PUBLIC_JWKS


def test_a_private_key_jwt_client_may_name_a_jwks_uri(initialized: Operator) -> None:
    client = create(
        initialized, "--redirect-uri", "https://a.example/cb",
        "--auth-method", "private_key_jwt", "--jwks-uri", "https://a.example/jwks.json",
    )  # fmt: skip
    assert client["jwks_uri"] == "https://a.example/jwks.json"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--auth-method", "private_key_jwt"), "needs either jwks or jwks_uri"),
        (("--auth-method", "private_key_jwt", "--jwks-uri", "http://a.example/j"), "https"),
        (("--jwks-uri", "https://a.example/jwks.json"), "private_key_jwt"),
    ],
)
def test_keys_that_do_not_fit_the_method_are_refused(
    initialized: Operator, options: tuple[str, ...], words: str
) -> None:
    result = initialized.run(
        "clients", "create", "--name", "Tool", "--redirect-uri", "https://a.example/cb", *options
    )
    assert result.returncode == 2 and words in one_line_error(result)


@pytest.mark.parametrize(
    "document",
    [
        '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}',
        json.dumps({"keys": [RSAKey.generate_key(2048).as_dict(private=True)]}),
        "[1, 2]",
        "not json",
    ],
)
def test_a_jwks_file_with_secret_keys_or_garbage_is_refused(
    initialized: Operator, tmp_path: Path, document: str
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(document)
    result = initialized.run(
        "clients", "create", "--name", "Tool", "--redirect-uri", "https://a.example/cb",
        "--auth-method", "private_key_jwt", "--jwks", str(jwks),
    )  # fmt: skip
    assert result.returncode == 2 and "--jwks" in one_line_error(result)


def test_require_par_is_set_at_creation_and_changed_by_update(initialized: Operator) -> None:
    client = create(initialized, "--redirect-uri", "https://a.example/cb", "--require-par")
    assert client["require_pushed_authorization_requests"] is True
    out = initialized.ok("clients", "update", client["client_id"], "--allow-authorize")
    assert "require_pushed_authorization_requests changed" in out


def test_update_replaces_inline_keys_with_a_jwks_uri(initialized: Operator, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(PUBLIC_JWKS))
    client = create(
        initialized, "--redirect-uri", "https://a.example/cb",
        "--auth-method", "private_key_jwt", "--jwks", str(jwks),
    )  # fmt: skip
    initialized.ok("clients", "update", client["client_id"], "--jwks-uri", "https://k.example/j")
    shown = json.loads(initialized.ok("clients", "show", client["client_id"]))
    assert shown["jwks"] is None and shown["jwks_uri"] == "https://k.example/j"


def test_a_private_key_jwt_client_has_no_secret_to_rotate(
    initialized: Operator, tmp_path: Path
) -> None:
    client = create(
        initialized, "--redirect-uri", "https://a.example/cb",
        "--auth-method", "private_key_jwt", "--jwks-uri", "https://a.example/jwks.json",
    )  # fmt: skip
    result = initialized.run("clients", "update", client["client_id"], "--rotate-secret")
    assert result.returncode == 2 and "has no secret" in one_line_error(result)
