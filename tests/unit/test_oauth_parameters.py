"""normalize_scope: one canonical scope string, each known scope once, in SCOPES order;
check_parameter_lengths: the size rule of every OAuth parameter."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from authserver.oauth.parameters import (
    MAX_PARAMETER_LENGTH,
    check_parameter_lengths,
    normalize_scope,
)
from authserver.oauth.scopes import SCOPES


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("openid", "openid"),
        ("email openid profile", "openid profile email"),
        ("openid " * 1000, "openid"),
        ("  profile\topenid  profile ", "openid profile"),
        ("openid no-such-scope", "openid"),
        ("OPENID", ""),
        ("", ""),
        (None, ""),
    ],
    ids=["one", "reordered", "repeated", "odd-spacing", "unknown", "case", "empty", "none"],
)
def test_a_scope_has_one_canonical_form(scope: str | None, expected: str) -> None:
    assert normalize_scope(scope) == expected


scope_words = st.lists(st.sampled_from([*SCOPES, "junk", "", "openid2"]), max_size=30)


@given(scope_words)
def test_normalizing_keeps_exactly_the_known_scopes_once_in_a_stable_order(words: list) -> None:
    normal = normalize_scope(" ".join(words))
    names = normal.split()
    assert set(names) == set(words) & SCOPES.keys()
    assert len(names) == len(set(names))
    assert names == [name for name in SCOPES if name in names]
    assert normalize_scope(normal) == normal


def test_every_value_of_a_repeated_parameter_is_bounded() -> None:
    form = MultiDict([("resource", "billing"), ("resource", "x" * (MAX_PARAMETER_LENGTH + 1))])
    with pytest.raises(InvalidRequestError):
        check_parameter_lengths(form)
    check_parameter_lengths(MultiDict([("resource", "billing"), ("resource", "kit-api")]))
