"""Property-based tests: hypothesis throws arbitrary parameters at the protocol endpoints and
the API. Whatever arrives: never a 500, never a redirect to a URI the client did not
register, never a token without valid client authentication and a valid grant."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authserver.extensions import db
from tests.api.conftest import Person
from tests.factories import make_service, make_user
from tests.oauth_helpers import RegisteredClient, register_client, sign_in

CALLBACK = "https://app.example.com/callback"
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values an attacker or a broken client might send: real-looking ones, and junk.
junk = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "S256", "plain", "code", "token", "openid", "none", "login",
                     CALLBACK, CALLBACK + "/", "https://evil.example/cb", "javascript:alert(1)",
                     "%00", "\x00", "a" * 5000, "-1", "0", "99999999999"]),
)  # fmt: skip
AUTHORIZE_NAMES = [
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "login_hint", "organization", "resource",
    "request", "response_mode", "id_token_hint",
]  # fmt: skip
TOKEN_NAMES = [
    "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
    "client_id", "client_secret", "resource", "token", "token_type_hint",
]  # fmt: skip
GRANT_TYPES = st.sampled_from(
    ["authorization_code", "refresh_token", "client_credentials", "password", "implicit", ""]
)


def params(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=12), junk, max_size=10)


@pytest.fixture
def clients(app: Flask) -> Iterator[tuple[RegisteredClient, RegisteredClient]]:
    """A web app (registered redirect URI) and a service client, with known secrets."""
    make_service("billing")
    web = register_client(redirect_uris=[CALLBACK])
    service = register_client(
        service_name="billing", grant_types=["client_credentials"], scopes=["services:sync"]
    )
    yield web, service


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# What an HTTP client can put in a header at all (no line breaks); the server never sees more.
header_junk = junk.filter(lambda value: "\n" not in value and "\r" not in value)


def auth_headers(
    web: RegisteredClient, service: RegisteredClient
) -> st.SearchStrategy[dict[str, str]]:
    return st.one_of(
        st.just({}),
        st.just({"Authorization": basic(web.client_id, web.secret)}),
        st.just({"Authorization": basic(service.client_id, service.secret)}),
        st.builds(lambda s: {"Authorization": basic(web.client_id, s)}, junk),
        st.builds(lambda s: {"Authorization": s}, header_junk),
        st.builds(lambda s: {"Authorization": "Basic " + s}, header_junk),
    )


def test_authorize_never_crashes_nor_redirects_to_an_unregistered_uri(
    app: Flask, http: FlaskClient, clients: tuple
) -> None:
    web, _ = clients
    sign_in(app, http, make_user())
    db.session.commit()

    @FUZZ
    @given(query=params(AUTHORIZE_NAMES), use_client=st.booleans())
    def check(query: dict[str, str], use_client: bool) -> None:
        if use_client:
            query = {"client_id": web.client_id, "redirect_uri": CALLBACK, **query}
        response = http.get("/authorize", query_string=query)
        assert response.status_code < 500, response.data[:300]
        if response.status_code in (301, 302, 303, 307, 308):
            location = response.headers["Location"]
            ours = urlsplit(location).netloc in ("", "localhost", "127.0.0.1:8000")
            assert ours or location.split("?")[0] == CALLBACK, location

    check()


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_token_endpoints_never_crash_nor_issue_without_a_valid_grant(
    http: FlaskClient, clients: tuple, path: str
) -> None:
    web, service = clients

    @FUZZ
    @given(form=params(TOKEN_NAMES), grant_type=GRANT_TYPES, headers=auth_headers(web, service))
    def check(form: dict[str, str], grant_type: str, headers: dict[str, str]) -> None:
        if grant_type:
            form = {"grant_type": grant_type, **form}
        response = http.post(path, data=form, headers=headers)
        assert response.status_code < 500, response.data[:300]
        assert response.mimetype == "application/json"
        if path == "/token" and response.status_code == 200:
            # The one valid grant in reach: client_credentials with the service's secret.
            assert headers == {"Authorization": basic(service.client_id, service.secret)}
            assert form.get("grant_type") == "client_credentials"
            assert form.get("client_id") in (None, "", service.client_id)
            assert "client_secret" not in form  # RFC 6749 §2.3: one authentication method

    check()


def test_userinfo_never_crashes_nor_answers_without_a_valid_token(http: FlaskClient) -> None:
    @FUZZ
    @given(
        header=header_junk,
        method=st.sampled_from(["GET", "POST"]),
        form=params(["access_token"]),
    )
    def check(header: str, method: str, form: dict[str, str]) -> None:
        headers = {"Authorization": header} if header else {}
        response = http.open("/userinfo", method=method, headers=headers, data=form or None)
        assert response.status_code in (400, 401, 403), response.data[:300]

    check()


def test_logout_never_crashes_nor_redirects_to_an_unregistered_uri(
    app: Flask, http: FlaskClient, clients: tuple
) -> None:
    sign_in(app, http, make_user())
    db.session.commit()
    names = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint",
             "confirm", "csrf_token"]  # fmt: skip

    @FUZZ
    @given(query=params(names), method=st.sampled_from(["GET", "POST"]))
    def check(query: dict[str, str], method: str) -> None:
        response = http.open("/logout", method=method, query_string=query)
        assert response.status_code < 500, response.data[:300]
        assert response.status_code not in (301, 302, 303, 307, 308), response.headers

    check()


def test_the_orgs_api_never_crashes_on_arbitrary_json(app: Flask, api: None) -> None:
    person = Person(app, "fuzz@example.com")
    org = person.call("POST", "", {"name": "Fuzz", "slug": "fuzz-org"}).json
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | junk,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
    paths = st.sampled_from(
        ["", f"/{org['id']}", f"/{org['id']}/members", f"/{org['id']}/invitations",
         f"/{org['id']}/members/{org['id']}/roles", "/not-a-uuid/members"]
    )  # fmt: skip

    @FUZZ
    @given(path=paths, method=st.sampled_from(["GET", "POST", "PUT", "PATCH"]), body=json_values)
    def check(path: str, method: str, body: object) -> None:
        response = person.call(method, path, body)
        assert response.status_code < 500, response.data[:300]
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
        db.session.rollback()

    check()


# Strings with what no store can hold: NUL and lone surrogates (st.text() leaves them out).
unstorable = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("\x00\ud800\udbff\udfff")),
    max_size=40,
)
BODY_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "application/json",
              "text/plain", "application/xml", "application/merge-patch+json"]  # fmt: skip


def test_any_body_type_with_any_text_on_any_write_route_is_never_a_500(
    app: Flask, http: FlaskClient, clients: tuple
) -> None:
    routes = sorted(
        (method, rule.build({name: "x" for name in rule.arguments}, append_unknown=False)[1])
        for rule in app.url_map.iter_rules()
        for method in sorted(set(rule.methods or ()) & {"POST", "PUT", "PATCH", "DELETE"})
    )
    names = st.sampled_from([*TOKEN_NAMES, "email", "password", "name", "roles", "csrf_token"])

    @FUZZ
    @given(
        route=st.sampled_from(routes),
        content_type=st.sampled_from(BODY_TYPES),
        fields=st.dictionaries(names, unstorable, max_size=6),
    )
    def check(route: tuple[str, str], content_type: str, fields: dict[str, str]) -> None:
        method, path = route
        if content_type.endswith("json"):
            body: object = json.dumps(fields)  # escapes surrogates as \ud800, as JSON may
        elif content_type == "multipart/form-data":
            body = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
        else:
            body = "&".join(
                f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items()
            )
        response = http.open(path, method=method, data=body, content_type=content_type)
        assert response.status_code < 500, (method, path, content_type, response.data[:300])
        db.session.rollback()

    check()
