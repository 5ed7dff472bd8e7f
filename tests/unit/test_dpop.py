"""DPoP's pure rules: htu normalisation, ath, the key thumbprint (RFC 9449's own examples)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey

from authserver.config import Settings
from authserver.oauth import dpop

SETTINGS = Settings(secret_key="s" * 40)


@pytest.mark.parametrize(
    "presented",
    [
        "https://server.example.com/token",
        "HTTPS://Server.Example.COM/token",
        "https://server.example.com:443/token",
        "https://server.example.com/token?query=1",
        "https://server.example.com/token#fragment",
        "https://server.example.com/%74oken",
    ],
)
def test_htu_spellings_of_the_same_uri_match(presented: str) -> None:
    assert dpop.normalized_uri(presented) == dpop.normalized_uri("https://server.example.com/token")


@pytest.mark.parametrize(
    "presented",
    [
        "https://server.example.com/token/",
        "https://server.example.com:8443/token",
        "http://server.example.com/token",
        "https://other.example.com/token",
        "https://server.example.com/Token",
        "https://server.example.com/to%2Fken",
    ],
)
def test_htu_of_another_uri_does_not_match(presented: str) -> None:
    assert dpop.normalized_uri(presented) != dpop.normalized_uri("https://server.example.com/token")


@pytest.mark.parametrize("presented", ["", "token", "ftp://x/token", "https://", "http://h:port/"])
def test_htu_that_is_no_http_uri_matches_nothing(presented: str) -> None:
    assert dpop.normalized_uri(presented) is None


def test_ath_is_rfc_9449s_example() -> None:
    # RFC 9449 §7.1: the access token and the ath of its example proof.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert dpop.token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_the_thumbprint_is_rfc_9449s_example() -> None:
    # RFC 9449 §4.1's proof key and §6.1's cnf.jkt for it.
    key = ECKey.import_key(
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        }
    )
    assert key.thumbprint() == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@given(st.one_of(st.text(max_size=300), st.lists(st.text(max_size=50), max_size=4).map(".".join)))
@settings(max_examples=300)
def test_any_header_value_is_a_refusal_never_a_crash(value: str) -> None:
    with pytest.raises(dpop.ProofRefused) as refused:
        dpop.check_proof([value], "POST", "https://server.example.com/token", SETTINGS)
    assert refused.value.error == "invalid_dpop_proof"
