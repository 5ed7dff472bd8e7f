"""The billing service: an example resource server that publishes its roles to authserver at
start-up and guards two routes by permission, with the authserver_rs kit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authserver_rs import ClientCredentials, Verifier, publish_manifest
from authserver_rs.flask import current_token, require_token
from flask import Flask, jsonify, request

from billing.web import add_web_pages

MANIFEST = Path(__file__).with_name("manifest.json")
MAX_AMOUNT_CENTS = 10**9


def create_app(
    issuer: str,
    credentials: ClientCredentials,
    *,
    publish: bool = True,
    web_client: ClientCredentials | None = None,
    base_url: str = "http://127.0.0.1:8001",
) -> Flask:
    """The service. With `publish` it first pushes its manifest, and refuses to start when
    authserver refuses it (roles still held, a schema error) or stays unreachable. With
    `web_client` it also serves a page at / for a person to try the API (web.py)."""
    if publish:
        publish_manifest(MANIFEST, issuer=issuer, credentials=credentials)
    # Tokens for us have `aud` = our service name; the manifest lets the `orgs` claim (roles
    # per org) answer permission questions as well as an org-scoped token does.
    verifier = Verifier(issuer, "billing", manifest=MANIFEST)
    invoices: dict[str, list[dict[str, Any]]] = {}
    app = Flask(__name__)

    @app.get("/orgs/<org>/invoices")
    @require_token(verifier, permission="invoice:read", org_from="org")
    def list_invoices(org: str) -> Any:
        return jsonify(invoices.get(org, []))

    @app.post("/orgs/<org>/invoices")
    @require_token(verifier, permission="invoice:write", org_from="org")
    def create_invoice(org: str) -> Any:
        amount = (request.get_json(silent=True) or {}).get("amount_cents")
        # bool is an int in Python, and JSON true is not an amount.
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT_CENTS:
            return jsonify({"error": "amount_cents must be a whole number of cents > 0"}), 422
        invoice = {
            "id": len(invoices.get(org, [])) + 1,
            "amount_cents": amount,
            "created_by": current_token().subject,
        }
        invoices.setdefault(org, []).append(invoice)
        return jsonify(invoice), 201

    if web_client is not None:
        add_web_pages(app, issuer, web_client, verifier, base_url)
    return app
