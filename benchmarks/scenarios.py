"""The benchmark scenarios: what each sends and the requests it needs (static, one-use
tokens, or a mix of malformed ones), authserver's and its peers' (benchmarks/peers/). What
each must reach is in benchmarks/targets.py."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from benchmarks.fixtures import REDIRECT_URI, VERIFIER, Seed

# A request line: (Authorization header or "", form body or "").
Line = tuple[str, str]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    lines: Callable[[Seed, dict[str, str], list[str]], list[Line]]
    one_use: bool = False  # each line may be sent once: codes and refresh tokens
    alg: str = "RS256"  # the signing key the server must use while it runs
    # "authserver", "hello" (the ceiling and the floor), or a peer's script in benchmarks/peers
    app: str = "authserver"
    expected_4xx: bool = False  # the malformed mix: every answer must be its own 4xx
    # a peer or the floor: the authserver scenario it is measured against, and runs with
    counterpart: str | None = None


def _static(line: Line) -> Callable[[Seed, dict[str, str], list[str]], list[Line]]:
    return lambda seed, extra, tokens: [line]


def _client_credentials(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    auth = basic(seed.service_client_id, seed.service_secret)
    return [(auth, "grant_type=client_credentials")]


def _refresh(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    auth = basic(seed.web_client_id, seed.web_secret)
    return [(auth, urlencode({"grant_type": "refresh_token", "refresh_token": t})) for t in tokens]


def _code(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    auth = basic(seed.web_client_id, seed.web_secret)
    return [
        (
            auth,
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": VERIFIER,
                }
            ),
        )
        for code in tokens
    ]


def _introspection(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    auth = basic(seed.web_client_id, seed.web_secret)
    return [(auth, urlencode({"token": extra["access_token"]}))]


def _userinfo(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    return [("Bearer " + extra["access_token"], "")]


# Each malformed request with the status and OAuth error it must get.
def malformed_requests(seed: Seed) -> list[tuple[Line, int, str]]:
    web = basic(seed.web_client_id, seed.web_secret)
    service = basic(seed.service_client_id, seed.service_secret)
    return [
        ((basic(seed.service_client_id, "wrong-secret"), "grant_type=client_credentials"),
         401, "invalid_client"),
        ((basic("no-such-client", "secret"), "grant_type=client_credentials"),
         401, "invalid_client"),
        (("Basic !!!not-base64", "grant_type=client_credentials"), 401, "invalid_client"),
        ((service, "grant_type=password&username=a&password=b"), 400, "unsupported_grant_type"),
        ((web, "grant_type=refresh_token&refresh_token=forged-" + "r" * 40), 400, "invalid_grant"),
        ((web, urlencode({"grant_type": "authorization_code", "code": "forged-" + "c" * 40,
                          "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER})),
         400, "invalid_grant"),
        ((service, ""), 400, "invalid_request"),
        ((service, "grant_type=client_credentials&grant_type=client_credentials"),
         400, "invalid_request"),
    ]  # fmt: skip


def _malformed(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    return [line for line, _status, _error in malformed_requests(seed)]


SCENARIOS = (
    Scenario("ceiling: Flask hello JSON", "GET", "/hello", _static(("", "")), app="hello"),
    Scenario(
        "floor: Flask route signing one RS256 JWT", "POST", "/hello/token", _client_credentials,
        app="hello", counterpart="token: client_credentials (RS256)",
    ),
    Scenario(
        "floor: refresh by Authlib's grant on our SQL, two RS256 JWTs", "POST",
        "/hello/refresh", _refresh, one_use=True, app="hello", counterpart="token: refresh_token",
    ),
    Scenario("discovery", "GET", "/.well-known/openid-configuration", _static(("", ""))),
    Scenario("JWKS", "GET", "/jwks.json", _static(("", ""))),
    Scenario("token: client_credentials (RS256)", "POST", "/token", _client_credentials),
    Scenario("token: refresh_token", "POST", "/token", _refresh, one_use=True),
    Scenario("token: authorization_code", "POST", "/token", _code, one_use=True),
    Scenario("introspection", "POST", "/introspect", _introspection),
    Scenario("userinfo", "GET", "/userinfo", _userinfo),
    Scenario(
        "token: malformed and wrongly authenticated", "POST", "/token", _malformed,
        expected_4xx=True,
    ),
    Scenario("token: client_credentials (ES256)", "POST", "/token", _client_credentials,
             alg="ES256"),
    Scenario("token: client_credentials (EdDSA)", "POST", "/token", _client_credentials,
             alg="EdDSA"),
)  # fmt: skip


# ---- the peers: node-oidc-provider 9 (benchmarks/peers/README.md) -------------------------

# The one client both peers know (client_secret_basic).
PEER_CLIENT = basic("bench", "bench-secret-bench-secret-bench-secret")


def _peer_client_credentials(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    return [(PEER_CLIENT, "grant_type=client_credentials&scope=api%3Aread")]


def _peer_refresh(seed: Seed, extra: dict[str, str], tokens: list[str]) -> list[Line]:
    """The refresh tokens op-pg.mjs minted, each sent once."""
    return [(PEER_CLIENT, urlencode({"grant_type": "refresh_token", "refresh_token": t}))
            for t in tokens]  # fmt: skip


PEERS = (
    Scenario(
        "peer: oidc-provider client_credentials (RS256, memory)", "POST", "/token",
        _peer_client_credentials, app="op.mjs", counterpart="token: client_credentials (RS256)",
    ),
    Scenario(
        "peer: oidc-provider refresh_token (RS256, PostgreSQL)", "POST", "/token", _peer_refresh,
        one_use=True, app="op-pg.mjs", counterpart="token: refresh_token",
    ),
)  # fmt: skip
