"""Bearer parsing and RFC 6750 challenges, without a server (pure)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authserver_rs.errors import InsufficientScope, InvalidToken, MissingToken
from authserver_rs.guard import bearer_token, challenge


@pytest.mark.parametrize("header", ["Bearer abc", "bearer abc", "BEARER   abc  "])
def test_the_bearer_scheme_is_case_insensitive(header: str) -> None:
    assert bearer_token(header) == "abc"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "Token abc"])
def test_anything_else_is_a_missing_token(header: str | None) -> None:
    with pytest.raises(MissingToken):
        bearer_token(header)


def test_a_missing_token_gets_a_bare_challenge() -> None:
    assert challenge(MissingToken("x"), "billing") == 'Bearer realm="billing"'


def test_an_invalid_token_challenge_names_the_error() -> None:
    assert challenge(InvalidToken("The token is expired."), "billing") == (
        'Bearer realm="billing", error="invalid_token", error_description="The token is expired."'
    )


def test_an_insufficient_scope_challenge_names_the_scope() -> None:
    value = challenge(InsufficientScope("Needs more.", scope="orgs"), "billing")
    assert value.endswith(
        'error="insufficient_scope", error_description="Needs more.", scope="orgs"'
    )


def test_quotes_backslashes_and_control_characters_never_reach_the_header() -> None:
    value = challenge(InvalidToken('bad "x" \\ \r\n\x00 é'), 'bil"ling')
    assert value == ('Bearer realm="billing", error="invalid_token", error_description="bad x   "')


def test_the_package_ships_its_type_marker() -> None:
    import authserver_rs

    assert (Path(authserver_rs.__file__).parent / "py.typed").is_file()


@pytest.mark.skipif(not os.environ.get("KIT_FROM_WHEEL"), reason="only in `make test-kit`")
def test_the_kit_under_test_is_the_installed_wheel() -> None:
    import authserver_rs

    assert "site-packages" in Path(authserver_rs.__file__).parts
