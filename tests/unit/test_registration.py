"""Client registration rules that need no app: generated and chosen client ids."""

from __future__ import annotations

import dataclasses

import pytest
from joserfc.jwk import RSAKey

from authserver.oauth.registration import (
    CLIENT_ID_PATTERN,
    ClientSpec,
    RegistrationError,
    new_client_id,
    validate,
)


def test_generated_client_ids_never_begin_with_a_dash_and_never_repeat() -> None:
    # A base64url id began with "-" one time in 64, and a CLI read it as an option.
    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(CLIENT_ID_PATTERN.match(client_id) for client_id in ids)
    assert not any(client_id[0] in "-._" for client_id in ids)


@pytest.mark.parametrize("client_id", ["-abc", ".abc", "_abc", "ab", "a b"])
def test_a_chosen_client_id_must_begin_with_a_letter_or_digit(client_id: str) -> None:
    spec = ClientSpec(name="App", redirect_uris=("https://a.example.com/cb",), client_id=client_id)
    with pytest.raises(RegistrationError, match="client_id"):
        validate(spec)


@pytest.mark.parametrize(
    "client_id",
    [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "0f8fad5bd9cb469fa16570867728950e",
    ],
    ids=["canonical", "upper-case", "no-dashes"],
)
def test_a_client_id_can_never_read_as_a_persons_id(client_id: str) -> None:
    spec = ClientSpec(name="App", redirect_uris=("https://a.example.com/cb",), client_id=client_id)
    with pytest.raises(RegistrationError, match="client_id: must not be a UUID"):
        validate(spec)


def test_a_client_id_that_only_looks_hexadecimal_is_fine() -> None:
    spec = ClientSpec(name="App", redirect_uris=("https://a.example.com/cb",), client_id="0f8fad5b")
    validate(spec)


SERVICE = {"grant_types": ("client_credentials",), "service_name": "billing"}
WEB = {"redirect_uris": ("https://a.example.com/cb",)}


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({**SERVICE, "scopes": ("services:sync", "orgs")}, "not for a service client: orgs"),
        ({**SERVICE, "scopes": ("openid",)}, "not for a service client: openid"),
        (
            {**SERVICE, **WEB, "grant_types": ("client_credentials", "authorization_code")},
            "client_credentials goes alone",
        ),
        (
            {**WEB, "service_name": "billing", "scopes": ("openid", "services:sync")},
            "not for a client acting for people: services:sync",
        ),
    ],
    ids=["service-with-orgs", "service-with-openid", "mixed-grants", "web-with-sync"],
)
def test_service_and_person_scopes_never_meet_in_one_client(over: dict, message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        validate(ClientSpec(name="App", **over))


@pytest.mark.parametrize(
    "over",
    [
        {**SERVICE, "scopes": ("services:sync",)},
        {**WEB, "scopes": ("openid", "orgs", "orgs:write")},
    ],
    ids=["service", "web-with-write"],
)
def test_each_kind_of_client_registers_with_its_own_scopes(over: dict) -> None:
    validate(ClientSpec(name="App", **over))


def test_no_client_may_be_bound_to_the_servers_own_auth_service() -> None:
    spec = ClientSpec(
        name="Svc", grant_types=("client_credentials",), scopes=(), service_name="auth"
    )
    with pytest.raises(RegistrationError, match="service"):
        validate(spec)
    validate(dataclasses.replace(spec, service_name="billing"))  # any other service may


PUBLIC_KEYS = {"keys": [RSAKey.generate_key(2048, parameters={"kid": "k"}).as_dict(private=False)]}
KEY_CLIENT = {**WEB, "auth_method": "private_key_jwt"}


@pytest.mark.parametrize(
    "over",
    [
        {**KEY_CLIENT, "jwks": PUBLIC_KEYS},
        {**KEY_CLIENT, "jwks_uri": "https://app.example/jwks.json"},
        {**KEY_CLIENT, "jwks_uri": "http://127.0.0.1:9000/jwks.json"},
        {"grant_types": ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token")},
        {**WEB, "require_pushed_authorization_requests": True},
    ],
    ids=["inline-keys", "https-jwks-uri", "loopback-jwks-uri", "device-cli", "requires-par"],
)
def test_clients_of_the_newer_protocols_register(over: dict) -> None:
    validate(ClientSpec(name="App", **over))


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (KEY_CLIENT, "needs either jwks or jwks_uri"),
        (
            {**KEY_CLIENT, "jwks": PUBLIC_KEYS, "jwks_uri": "https://a.example/j"},
            "either jwks or jwks_uri",
        ),
        ({**KEY_CLIENT, "jwks_uri": "http://app.example/jwks.json"}, "https"),
        ({**KEY_CLIENT, "jwks_uri": "https://app.example/j#frag"}, "fragment"),
        ({**KEY_CLIENT, "jwks": {"keys": []}}, "1 to 20 keys"),
        ({**KEY_CLIENT, "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}}, "RSA, EC or OKP"),
        (
            {**KEY_CLIENT, "jwks": {"keys": [RSAKey.generate_key(2048).as_dict(private=True)]}},
            "never a private key",
        ),
        ({**KEY_CLIENT, "jwks": {"keys": [{"kty": "RSA", "n": "x"}]}}, "not a valid JWK Set"),
        ({**WEB, "jwks": PUBLIC_KEYS}, "private_key_jwt"),
        ({"grant_types": ("refresh_token",)}, "refresh_token goes with"),
    ],
)
def test_keys_must_fit_private_key_jwt(over: dict, message: str) -> None:
    with pytest.raises(RegistrationError, match=message):
        validate(ClientSpec(name="App", **over))
