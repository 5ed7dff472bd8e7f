"""Console pages for OAuth clients: list, register, edit, rotate the secret, delete. The
rules are registration.py's, the same the `authserver clients` commands apply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, abort, request
from sqlalchemy import func, or_, select

from authserver import audit
from authserver.admin import client_form
from authserver.admin.console import (
    PAGE_SIZE,
    admin,
    done,
    operator,
    page,
    page_number,
    text_arg,
)
from authserver.extensions import db
from authserver.models import AuthorizationCode, Consent, GrantFamily, OAuthClient, RefreshToken
from authserver.models.clients import GRANT_TYPES
from authserver.models.users import like_prefix
from authserver.oauth.registration import (
    ClientSpec,
    RegistrationError,
    audited_changes,
    change,
    register,
)
from authserver.oauth.scopes import SCOPES

KINDS = ("public", "confidential")


def _client(client_id: str) -> OAuthClient:
    client = OAuthClient.find(client_id)
    if client is None:
        abort(404, "There is no such client.")
    return client


def _record(event_type: str, client_id: str, **details: object) -> None:
    audit.record(
        event_type,
        actor_user_id=operator().user.id,
        target_type="client",
        target_id=client_id,
        **details,
    )


@admin.get("/clients")
def clients() -> Response:
    query, kind, service = text_arg("q"), text_arg("kind"), text_arg("service")
    if kind and kind not in KINDS:
        abort(400, "kind must be public or confidential.")
    number = page_number()
    stmt = select(OAuthClient).order_by(OAuthClient.name, OAuthClient.client_id)
    if query:
        # Few rows (clients, not people): a substring match is cheap enough.
        pattern = "%" + like_prefix(query.lower())
        stmt = stmt.where(
            or_(
                func.lower(OAuthClient.name).like(pattern, escape="\\"),
                func.lower(OAuthClient.client_id).like(pattern, escape="\\"),
            )
        )
    if kind:
        is_public = OAuthClient.token_endpoint_auth_method == "none"
        stmt = stmt.where(is_public if kind == "public" else ~is_public)
    if service:
        stmt = stmt.where(OAuthClient.service_name == service)
    found = list(db.session.scalars(stmt.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return page(
        "clients.html",
        clients=found[:PAGE_SIZE],
        query=query,
        kind=kind,
        service=service,
        number=number,
        has_next=len(found) > PAGE_SIZE,
    )


def _form_context(**over: Any) -> dict[str, Any]:
    return {
        "scopes": SCOPES,
        "grant_types": GRANT_TYPES,
        "grant_type_labels": client_form.GRANT_TYPE_LABELS,
        "auth_methods": client_form.AUTH_METHOD_LABELS,
        "jwks_text": "",
        "error": None,
        **over,
    }


@admin.get("/clients/new")
def new_client() -> Response:
    return page("client_new.html", **_form_context(spec=ClientSpec(name="")))


@admin.post("/clients/new")
def create_client() -> Response:
    spec = client_form.spec_from_form(request.form)
    try:
        client, secret = register(replace(spec, jwks=client_form.read_jwks(request.form)))
    except RegistrationError as error:
        db.session.rollback()
        context = _form_context(spec=spec, jwks_text=request.form.get("jwks", ""), error=str(error))
        return page("client_new.html", status=400, **context)
    _record("client.created", client.client_id, name=client.name)
    db.session.commit()
    return page("client_secret.html", client=client, secret=secret, created=True)


@admin.get("/clients/<client_id>")
def client(client_id: str) -> Response:
    found = _client(client_id)
    return page("client.html", client=found, **_detail_context(found))


def _detail_context(client: OAuthClient, **over: Any) -> dict[str, Any]:
    """The client's page: its form with the stored values, and what it holds."""
    jwks_text = client_form.jwks_text(client.jwks)
    return _form_context(jwks_text=jwks_text, **_holdings(client), **over)


def _holdings(client: OAuthClient) -> dict[str, int]:
    """What goes with the client when it is deleted."""

    def count(model: Any, *where: Any) -> int:
        stmt = select(func.count()).select_from(model).where(model.client_id == client.id, *where)
        return db.session.scalar(stmt) or 0

    return {
        "active_grants": count(GrantFamily, GrantFamily.revoked_at.is_(None)),
        "refresh_tokens": count(RefreshToken, RefreshToken.revoked_at.is_(None)),
        "consents": count(Consent),
        "codes": count(AuthorizationCode, AuthorizationCode.used_at.is_(None)),
    }


@admin.post("/clients/<client_id>")
def edit_client(client_id: str) -> Response:
    found = _client(client_id)
    spec = client_form.spec_from_form(request.form)
    try:
        requested = client_form.changes_from_form(spec, client_form.read_jwks(request.form))
        changed, _ = change(found, requested)
    except RegistrationError as error:
        db.session.rollback()
        found = _client(client_id)
        context = _detail_context(found, error=str(error))
        return page("client.html", status=400, client=found, **context)
    if changed:
        _record("client.changed", client_id, **audited_changes(changed))
    return done("admin.client", client_id=client_id)


@admin.post("/clients/<client_id>/rotate-secret")
def rotate_secret(client_id: str) -> Response:
    found = _client(client_id)
    try:
        changed, secret = change(found, {}, rotate_secret=True)
    except RegistrationError:
        abort(409, "This client has no secret to rotate (public or private_key_jwt).")
    _record("client.changed", client_id, **audited_changes(changed))
    db.session.commit()
    return page("client_secret.html", client=found, secret=secret, created=False)


@admin.get("/clients/<client_id>/delete")
def confirm_delete_client(client_id: str) -> Response:
    found = _client(client_id)
    return page("client_delete.html", client=found, **_holdings(found))


@admin.post("/clients/<client_id>/delete")
def delete_client(client_id: str) -> Response:
    found = _client(client_id)
    if request.form.get("confirm") != found.client_id:
        abort(400, "Type the client id to confirm the deletion.")
    db.session.delete(found)  # codes, tokens and consents go with it (ON DELETE CASCADE)
    _record("client.deleted", client_id, name=found.name)
    return done("admin.clients")
