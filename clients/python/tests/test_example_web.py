"""The billing example's own page, served on a loopback port, with people signing in through
the real authserver: the page a `make billing` user opens."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.processes import free_port
from werkzeug.serving import make_server

from authserver_rs import ClientCredentials

from conftest import REPO, Acme, Authserver, Forms, Person, new_person

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def example(
    authserver: Authserver, billing_credentials: ClientCredentials, acme: Acme
) -> Iterator[str]:
    """The example with its web page on a free port; its base URL."""
    sys.path.insert(0, str(REPO / "examples"))
    from billing.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    made = authserver.client(
        "--name", "Billing web", "--first-party", "--redirect-uri", f"{base}/callback",
        "--scope", "openid", "--scope", "orgs", "--scope", "orgs:write",
    )  # fmt: skip
    web = ClientCredentials(made["client_id"], made["client_secret"])
    app = create_app(authserver.issuer, billing_credentials, web_client=web, base_url=base)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join(timeout=10)


def visit(person: Person, url: str, **post: str) -> httpx.Response:
    """What the person's browser ends on: redirects followed, authserver's sign-in filled."""
    response = person.browser.post(url, data=post) if post else person.browser.get(url)
    for _ in range(15):
        if response.is_redirect:
            response = person.browser.get(str(response.url.join(response.headers["location"])))
        elif 'name="password"' in response.text:
            response = person.sign_in_on(response)
        else:
            return response
    raise AssertionError("too many redirects")


def csrf_of(page: httpx.Response) -> str:
    forms = Forms()
    forms.feed(page.text)
    return next(fields["csrf"] for _, fields in forms.forms if "csrf" in fields)


def signed_in(person: Person, example: str) -> httpx.Response:
    page = visit(person, f"{example}/sign-in")
    assert page.status_code == 200 and "Signed in as" in page.text
    return page


def test_a_person_signs_in_and_sees_their_billing_roles(example: str, acme: Acme) -> None:
    page = signed_in(acme.alice, example)
    assert acme.alice_id in page.text
    assert "<h2>acme</h2>" in page.text and "billing:clerk" in page.text


@pytest.mark.parametrize(
    ("who", "call", "answer"),
    [
        ("alice", "create", "POST /orgs/acme/invoices -&gt; 201"),
        ("bob", "list", "GET /orgs/acme/invoices -&gt; 200"),
        ("bob", "create", "POST /orgs/acme/invoices -&gt; 403"),
    ],
)
def test_the_page_calls_the_guarded_routes_with_the_persons_token(
    example: str, acme: Acme, who: str, call: str, answer: str
) -> None:
    person: Person = getattr(acme, who)
    page = signed_in(person, example)

    result = visit(person, f"{example}/try/acme", call=call, csrf=csrf_of(page))

    assert answer in result.text
    if answer.endswith("403"):
        assert "insufficient_scope" in result.text


def test_a_form_without_its_csrf_token_is_refused(example: str, acme: Acme) -> None:
    signed_in(acme.bob, example)
    refused = acme.bob.browser.post(f"{example}/try/acme", data={"call": "create"})
    assert refused.status_code == 400


def test_starting_an_org_makes_the_person_a_billing_clerk_there(
    example: str, authserver: Authserver, web_app: ClientCredentials
) -> None:
    carol = new_person(authserver, web_app, "carol")  # not in acme, whose people others use
    page = signed_in(carol, example)

    after = visit(carol, f"{example}/start-org", slug="initech", csrf=csrf_of(page))

    assert "PUT /api/v1/orgs/" in after.text  # the role change the page made, shown
    # The token is for billing (resource=billing): its orgs claim lists billing roles only.
    assert "<h2>initech</h2>\n    <p>Roles: billing:clerk</p>" in after.text


@pytest.mark.parametrize("query", [{"code": "x", "state": "forged"}, {}])
def test_a_callback_that_is_not_ours_is_refused(
    example: str, acme: Acme, query: dict[str, Any]
) -> None:
    response = acme.bob.browser.get(f"{example}/callback", params=query)
    assert response.status_code == 400
