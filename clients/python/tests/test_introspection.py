"""Live checks at /introspect with the service's own credentials, against a real authserver."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from authserver_rs import ClientCredentials, InvalidToken, IssuerUnavailable, Verifier

from conftest import Acme, Authserver, CountingHttp, claims_of

pytestmark = pytest.mark.server


def revoke(authserver: Authserver, app: ClientCredentials, token: str) -> None:
    response = httpx.post(
        f"{authserver.issuer}/revoke", data={"token": token}, auth=app.basic_auth()
    )
    assert response.status_code == 200


def test_a_revoked_family_is_refused_live_but_not_offline(
    authserver: Authserver,
    billing_credentials: ClientCredentials,
    web_app: ClientCredentials,
    acme: Acme,
) -> None:
    live = Verifier(
        authserver.issuer, "billing", introspection=billing_credentials, introspection_cache_ttl=0
    )
    offline = Verifier(authserver.issuer, "billing")
    raw = acme.bob.access_token(resource="billing", organization="acme")
    live.verify(raw)

    revoke(authserver, web_app, raw)  # revoking an access token ends its whole family

    with pytest.raises(InvalidToken, match="revoked"):
        live.verify(raw)
    offline.verify(raw)  # offline, a revoked token lives until it expires: the trade-off


def test_a_route_may_ask_live_when_the_verifier_does_not_by_default(
    authserver: Authserver,
    billing_credentials: ClientCredentials,
    web_app: ClientCredentials,
    acme: Acme,
) -> None:
    verifier = Verifier(
        authserver.issuer,
        "billing",
        introspection=billing_credentials,
        introspect_by_default=False,
        introspection_cache_ttl=0,
    )
    raw = acme.bob.access_token(resource="billing")
    revoke(authserver, web_app, raw)

    verifier.verify(raw)
    with pytest.raises(InvalidToken):
        verifier.verify(raw, live=True)


def test_answers_are_cached_for_the_configured_time(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme
) -> None:
    raw = acme.bob.access_token(resource="billing")
    now = [float(claims_of(raw)["iat"])]
    http = CountingHttp()
    verifier = Verifier(
        authserver.issuer,
        "billing",
        introspection=billing_credentials,
        introspection_cache_ttl=5,
        http=http,
        clock=lambda: now[0],
    )

    verifier.verify(raw)
    verifier.verify(raw)
    now[0] += 6
    verifier.verify(raw)

    assert http.paths.count("/introspect") == 2


def test_wrong_service_credentials_make_the_issuer_unavailable_not_the_token_invalid(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme
) -> None:
    wrong = ClientCredentials(billing_credentials.client_id, "wrong" * 9)
    verifier = Verifier(authserver.issuer, "billing", introspection=wrong)
    with pytest.raises(IssuerUnavailable):
        verifier.verify(acme.bob.access_token(resource="billing"))


def test_live_checks_need_credentials(
    authserver: Authserver, acme: Acme, billing_manifest: Path
) -> None:
    with pytest.raises(ValueError, match="introspection"):
        Verifier(authserver.issuer, "billing").verify(
            acme.bob.access_token(resource="billing"), live=True
        )
