"""Client registration rules that need no app: generated and chosen client ids."""

from __future__ import annotations

import pytest

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
