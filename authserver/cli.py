"""The `authserver` command group: init, db, keys, clients, users, orgs, api-keys, serve."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import IO

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.serving import run_simple

from authserver import audit
from authserver.audit_cli import audit_cli
from authserver.cli_input import RUN_INIT, read_json_file, unstorable_argument
from authserver.clock import utcnow
from authserver.config import ConfigError, Settings, current_settings
from authserver.credentials.cli import api_keys_cli
from authserver.demo.seed import seed
from authserver.errors import is_missing_schema
from authserver.extensions import db
from authserver.housekeeping import clean
from authserver.keys import ALGORITHMS, DEFAULT_ALGORITHM, KeyStoreError, current_key_store
from authserver.models import OAuthClient
from authserver.models.clients import DEVICE_CODE_GRANT_TYPE, TOKEN_EXCHANGE
from authserver.numbers import AsciiIntRange
from authserver.oauth.registration import (
    ClientSpec,
    RegistrationError,
    audited_changes,
    change,
    register,
)
from authserver.orgs_cli import orgs_cli
from authserver.outbox import worker as outbox_worker
from authserver.outbox.cli import mail_cli, outbox_cli
from authserver.services.manifest import ManifestInvalid
from authserver.services.sync import (
    ReservedService,
    RolesInUse,
    SyncResult,
    apply_document,
    record_synced,
    sync_auth_manifest,
)
from authserver.users_cli import users_cli

keys_cli = AppGroup("keys", help="Signing keys in AUTHSERVER_KEYS_DIR.")
clients_cli = AppGroup("clients", help="OAuth clients.")


demo_cli = AppGroup("demo", help="The demo person, organization and client.")
services_cli = AppGroup("services", help="Service manifests of permissions and roles.")


def register_commands(app: Flask) -> None:
    commands = (
        init_command,
        serve_command,
        cleanup_command,
        keys_cli,
        clients_cli,
        users_cli,
        demo_cli,
        services_cli,
        audit_cli,
        orgs_cli,
        outbox_cli,
        mail_cli,
        api_keys_cli,
    )
    for command in commands:
        app.cli.add_command(command)


# ---- init, serve ---------------------------------------------------------------------------


@click.command("init")
@click.option("--alg", type=click.Choice(ALGORITHMS), default=DEFAULT_ALGORITHM, show_default=True)
def init_command(alg: str) -> None:
    """Migrate the database to the newest schema and make a signing key if there is none.

    Safe to run again: it changes only what is missing.
    """
    upgrade(directory=current_app.extensions["migrate"].directory)
    click.echo("database: at the newest revision")
    result = sync_auth_manifest()
    record_synced(result, via="init")
    db.session.commit()
    click.echo(f"auth manifest: {'updated' if result.has_changes else 'up to date'}")
    created = current_key_store().ensure_key(alg)
    if created is None:
        click.echo("keys: a signing key exists")
    else:
        audit.record("key.generated", target_type="key", target_id=created.kid, alg=alg)
        db.session.commit()
        click.echo(f"keys: generated {created.alg} key {created.kid}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=AsciiIntRange(1, 65535), default=8000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Run the development server (production runs `gunicorn wsgi:app`)."""
    if current_settings().is_production:
        raise click.UsageError("serve is the development server; run `gunicorn wsgi:app`")
    app = current_app._get_current_object()
    # The outbox is delivered in this process: `make demo` needs no `authserver outbox deliver`.
    stop_delivering = outbox_worker.start_thread(app)
    try:
        # Flask refuses app.run() inside its own CLI; werkzeug's server is what it would run.
        run_simple(host, port, app, threaded=True)
    finally:
        stop_delivering()


@click.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def cleanup_command(dry_run: bool) -> None:
    """Delete expired codes, pending sign-ins, sessions and grants (run it daily)."""
    counts = clean(utcnow(), dry_run=dry_run)
    if not dry_run:
        audit.record("housekeeping.cleaned", **counts)
    db.session.commit()
    verb = "would delete" if dry_run else "deleted"
    click.echo(", ".join(f"{verb} {n} {table}" for table, n in counts.items()))


# ---- keys ----------------------------------------------------------------------------------


@keys_cli.command("generate")
@click.option("--alg", type=click.Choice(ALGORITHMS), default=DEFAULT_ALGORITHM, show_default=True)
def keys_generate(alg: str) -> None:
    """Make a new key. The first one signs at once; later ones after the publish delay."""
    key = current_key_store().generate(alg)
    _audit_and_commit("key.generated", key.kid, alg=alg)
    click.echo(
        f"generated {key.alg} key {key.kid}, signing from {key.activates_at:%Y-%m-%d %H:%M:%S} UTC"
    )


@keys_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_list(as_json: bool) -> None:
    """Show every key with its state: pending, active (* = signing), retired, expired."""
    store = current_key_store()
    keys = store.keys()
    now = utcnow()
    try:
        signing = store.signing_key().kid
    except KeyStoreError:
        signing = None
    rows = [
        {
            "kid": key.kid,
            "alg": key.alg,
            "state": key.state(now),
            "signing": key.kid == signing,
            "created_at": key.created_at.isoformat(),
            "activates_at": key.activates_at.isoformat(),
            "retired_at": key.retired_at.isoformat() if key.retired_at else None,
            "publish_until": key.publish_until.isoformat() if key.publish_until else None,
        }
        for key in keys
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no keys (run: authserver keys generate)")
        return
    for row in rows:
        mark = "*" if row["signing"] else " "
        click.echo(
            f"{mark} {row['kid']}  {row['alg']}  {row['state']:<8} "
            f"activates {row['activates_at']}  published until {row['publish_until'] or '-'}"
        )


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(ALGORITHMS), default=DEFAULT_ALGORITHM, show_default=True)
@click.option(
    "--now",
    "immediately",
    is_flag=True,
    help="Sign with the new key at once, skipping the publish delay (relying parties that "
    "cached the JWKS must refetch it on an unknown kid).",
)
def keys_rotate(alg: str, immediately: bool) -> None:
    """Publish a new key now; it signs after the publish delay, when the old key retires."""
    new, retired = current_key_store().rotate(alg, immediately=immediately)
    _audit_and_commit(
        "key.rotated", new.kid, alg=alg, retired=[key.kid for key in retired], immediate=immediately
    )
    click.echo(f"new {new.alg} key {new.kid} signs from {new.activates_at:%Y-%m-%d %H:%M:%S} UTC")
    for key in retired:
        click.echo(
            f"key {key.kid} stops signing then and stays published until "
            f"{key.publish_until:%Y-%m-%d %H:%M:%S} UTC"
        )


# A kid is a base64url thumbprint and may begin with "-": never read it as an option.
@keys_cli.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@click.option(
    "--now",
    "immediately",
    is_flag=True,
    help="Also unpublish it at once (a compromised key): tokens it signed stop verifying.",
)
def keys_retire(kid: str, immediately: bool) -> None:
    """Stop signing with KID; it stays published until its tokens have expired."""
    key = current_key_store().retire(kid, immediately=immediately)
    _audit_and_commit("key.retired", key.kid, immediate=immediately)
    click.echo(f"retired {key.kid}; published until {key.publish_until:%Y-%m-%d %H:%M:%S} UTC")


@keys_cli.command("prune")
def keys_prune() -> None:
    """Delete the files of keys that are no longer published."""
    removed = current_key_store().prune()
    for kid in removed:
        _audit_and_commit("key.pruned", kid)
    click.echo(f"removed {len(removed)} expired key(s)")


def _audit_and_commit(event_type: str, kid: str, **details: object) -> None:
    audit.record(event_type, target_type="key", target_id=kid, **details)
    db.session.commit()


# ---- clients -------------------------------------------------------------------------------


@clients_cli.command("create")
@click.option("--name", required=True, help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact; repeat for more.")
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "device_code",
            "token_exchange",
        ]
    ),
    help="Default: authorization_code and refresh_token (client_credentials with --service). "
    "device_code is RFC 8628's grant, for CLIs and TVs; token_exchange is RFC 8693's, for "
    "exchanging API keys.",
)
@click.option("--scope", "scopes", multiple=True, help="Allowed scope; repeat for more.")
@click.option("--public", is_flag=True, help="No secret (SPA, mobile, CLI): PKCE only.")
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    default="client_secret_basic",
    show_default=True,
    help="private_key_jwt: no secret; the client signs assertions (needs --jwks or --jwks-uri).",
)
@click.option(
    "--jwks", "jwks_file", type=click.File("rb"), help="JSON file of public keys; - reads stdin."
)
@click.option("--jwks-uri", help="https URL of the client's public keys (fetched, cached).")
@click.option("--require-par", is_flag=True, help="Authorization requests must come through /par.")
@click.option("--first-party", is_flag=True, help="Our own app: people are not asked to consent.")
@click.option("--service", "service_name", help="Bind the client to a service (its manifest).")
@click.option("--client-id", help="Choose the client id (default: random).")
@click.option("--logo-uri", help="https URL of the app's logo, shown on sign-in and consent.")
@click.option("--client-uri", help="https URL of the app's home page: the way back to it.")
@click.option("--policy-uri", help="https URL of the app's privacy policy.")
@click.option("--tos-uri", help="https URL of the app's terms of service.")
@click.option(
    "--dpop-bound", is_flag=True, help="Every token request must carry a DPoP proof (RFC 9449)."
)
@click.option("--backchannel-logout-uri", help="Where logout tokens are POSTed (https).")
@click.option(
    "--backchannel-logout-session-required", is_flag=True, help="Logout tokens carry sid."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def clients_create(
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    grant_types: tuple[str, ...],
    scopes: tuple[str, ...],
    public: bool,
    auth_method: str,
    jwks_file: IO[bytes] | None,
    jwks_uri: str | None,
    require_par: bool,
    first_party: bool,
    service_name: str | None,
    client_id: str | None,
    logo_uri: str | None,
    client_uri: str | None,
    policy_uri: str | None,
    tos_uri: str | None,
    dpop_bound: bool,
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    as_json: bool,
) -> None:
    """Register a client. A confidential client's secret is printed once, never again."""
    grant_types = tuple(_grant_type_names(grant_types))
    if not grant_types:
        grant_types = (
            ("client_credentials",)
            if service_name and not redirect_uris
            else ("authorization_code", "refresh_token")
        )
    if not scopes:
        scopes = _default_scopes(grant_types)
    spec = ClientSpec(
        name=name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_uris,
        grant_types=grant_types,
        scopes=scopes,
        auth_method="none" if public else auth_method,
        is_first_party=first_party,
        service_name=service_name,
        client_id=client_id,
        logo_uri=logo_uri,
        client_uri=client_uri,
        policy_uri=policy_uri,
        tos_uri=tos_uri,
        dpop_bound_access_tokens=dpop_bound,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
        jwks=_read_jwks(jwks_file),
        jwks_uri=jwks_uri,
        require_pushed_authorization_requests=require_par,
    )
    try:
        client, secret = register(spec)
    except RegistrationError as error:
        raise _bad_parameter(error) from None
    audit.record(
        "client.created",
        actor_client_id=None,
        target_type="client",
        target_id=client.client_id,
        name=client.name,
    )
    db.session.commit()
    if as_json:
        click.echo(json.dumps({**_client_view(client), "client_secret": secret}, indent=2))
        return
    click.echo(f"client_id:     {client.client_id}")
    if secret:
        _show_secret_once(secret)
    elif client.token_endpoint_auth_method == "private_key_jwt":
        click.echo("private_key_jwt client: no secret; it signs client assertions")
    else:
        click.echo("public client: no secret; it must use PKCE")


GRANT_TYPE_URNS = {"device_code": DEVICE_CODE_GRANT_TYPE, "token_exchange": TOKEN_EXCHANGE}


def _grant_type_names(names: Iterable[str]) -> Iterable[str]:
    """The CLI's short "device_code" and "token_exchange" are RFC 8628's and RFC 8693's
    grant type URNs."""
    return (GRANT_TYPE_URNS.get(name, name) for name in names)


def _read_jwks(jwks_file: IO[bytes] | None) -> dict | None:
    if jwks_file is None:
        return None
    document = read_json_file(jwks_file, "--jwks")
    if not isinstance(document, dict):
        raise click.BadParameter("must be a JSON object with a keys list", param_hint="--jwks")
    return document


def _show_secret_once(secret: str) -> None:
    click.echo(f"client_secret: {secret}")
    click.echo("Store the secret now: only its hash is kept and it cannot be shown again.")


def _default_scopes(grant_types: Iterable[str]) -> tuple[str, ...]:
    if "client_credentials" in grant_types:
        return ("services:sync",)
    if {"authorization_code", DEVICE_CODE_GRANT_TYPE} & set(grant_types):
        return ("openid", "profile", "email", "offline_access", "orgs")
    return ("orgs",)  # a token exchange client: what a personal API key's token may carry


@clients_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def clients_list(as_json: bool) -> None:
    """List registered clients."""
    clients = db.session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)).all()
    if as_json:
        click.echo(json.dumps([_client_view(client) for client in clients], indent=2))
        return
    if not clients:
        click.echo("no clients (run: authserver clients create --help)")
    for client in clients:
        kind = "public" if client.is_public else "confidential"
        click.echo(f"{client.client_id}  {kind:<12}  {','.join(client.grant_types)}  {client.name}")


@clients_cli.command("show")
@click.argument("client_id")
def clients_show(client_id: str) -> None:
    """Show one client (never its secret)."""
    click.echo(json.dumps(_client_view(_find_client(client_id)), indent=2))


@clients_cli.command("update")
@click.argument("client_id")
@click.option("--name", help="Shown to people on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the list.")
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--scope", "scopes", multiple=True, help="Replaces the allowed scopes.")
@click.option("--first-party/--third-party", "first_party", default=None)
@click.option("--jwks", "jwks_file", type=click.File("rb"), help="Replaces the public keys.")
@click.option("--jwks-uri", help="Replaces the URL of the public keys.")
@click.option("--require-par/--allow-authorize", "require_par", default=None)
@click.option(
    "--logo-uri",
    help="Empty removes it; https URL of the app's logo, shown on sign-in and consent.",
)
@click.option(
    "--client-uri", help="Empty removes it; https URL of the app's home page: the way back to it."
)
@click.option("--policy-uri", help="Empty removes it; https URL of the app's privacy policy.")
@click.option("--tos-uri", help="Empty removes it; https URL of the app's terms of service.")
@click.option("--rotate-secret", is_flag=True, help="Print a new secret; the old one stops.")
@click.option("--dpop-bound/--no-dpop-bound", "dpop_bound", default=None)
@click.option("--backchannel-logout-uri", help='Where logout tokens are POSTed; "" removes it.')
@click.option(
    "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
    "backchannel_session_required",
    default=None,
)
def clients_update(
    client_id: str,
    name: str | None,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    scopes: tuple[str, ...],
    first_party: bool | None,
    jwks_file: IO[bytes] | None,
    jwks_uri: str | None,
    require_par: bool | None,
    logo_uri: str | None,
    client_uri: str | None,
    policy_uri: str | None,
    tos_uri: str | None,
    rotate_secret: bool,
    dpop_bound: bool | None,
    backchannel_logout_uri: str | None,
    backchannel_session_required: bool | None,
) -> None:
    """Change a client. Running workers see the change within AUTHSERVER_CLIENT_CACHE_TTL."""
    client = _find_client(client_id)
    requested = {
        "name": name,
        "redirect_uris": redirect_uris or None,
        "post_logout_redirect_uris": post_logout_uris or None,
        "scopes": scopes or None,
        "is_first_party": first_party,
        "logo_uri": logo_uri,
        "client_uri": client_uri,
        "policy_uri": policy_uri,
        "tos_uri": tos_uri,
        "dpop_bound_access_tokens": dpop_bound,
        "backchannel_logout_uri": backchannel_logout_uri,
        "backchannel_logout_session_required": backchannel_session_required,
        "require_pushed_authorization_requests": require_par,
    }
    changes = {field: value for field, value in requested.items() if value is not None}
    if backchannel_logout_uri == "":
        changes["backchannel_logout_uri"] = None
    # A client has one source of keys: naming one replaces the other.
    if jwks_file is not None:
        changes.update(jwks=_read_jwks(jwks_file), jwks_uri=None)
    if jwks_uri is not None:
        changes.update(jwks_uri=jwks_uri, jwks=None)
    try:
        changed, secret = change(client, changes, rotate_secret=rotate_secret)
    except RegistrationError as error:
        raise _bad_parameter(error) from None
    if changed:
        audit.record(
            "client.changed", target_type="client", target_id=client_id, **audited_changes(changed)
        )
    db.session.commit()
    click.echo(f"{client_id}: " + (", ".join(changed) + " changed" if changed else "no change"))
    if secret:
        _show_secret_once(secret)


@clients_cli.command("delete")
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def clients_delete(client_id: str, yes: bool) -> None:
    """Delete a client with its codes, tokens and consents."""
    client = _find_client(client_id)
    if not yes:
        click.confirm(
            f"Delete {client.client_id} ({client.name}) and every token it holds?", abort=True
        )
    db.session.delete(client)
    audit.record("client.deleted", target_type="client", target_id=client.client_id)
    db.session.commit()
    click.echo(f"deleted {client_id}")


def _bad_parameter(error: RegistrationError) -> click.BadParameter:
    problem = str(error).split(": ", 1)[1]
    return click.BadParameter(problem, param_hint=f"--{error.field.replace('_', '-')}")


def _find_client(client_id: str) -> OAuthClient:
    client = OAuthClient.find(client_id)
    if client is None:
        raise click.BadParameter(f"no client {client_id!r}", param_hint="CLIENT_ID")
    return client


def _client_view(client: OAuthClient) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": "public" if client.is_public else "confidential",
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "first_party": client.is_first_party,
        "service": client.service_name,
        "logo_uri": client.logo_uri,
        "client_uri": client.client_uri,
        "policy_uri": client.policy_uri,
        "tos_uri": client.tos_uri,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        "jwks": client.jwks,
        "jwks_uri": client.jwks_uri,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "created_at": client.created_at.isoformat(),
    }


# ---- entry point ---------------------------------------------------------------------------


def _app_factory() -> Callable[[], Flask]:
    def make() -> Flask:
        from authserver import create_app

        return create_app(Settings.from_env(os.environ))

    return make


cli = FlaskGroup(
    name="authserver",
    create_app=_app_factory(),
    add_version_option=True,
    load_dotenv=False,
    set_debug_flag=False,
    help="Operate authserver: database, keys, clients, users.",
)


def main() -> None:
    """Console script: one line on stderr and a non-zero exit for an expected failure."""
    unstorable = unstorable_argument(sys.argv[1:])
    if unstorable is not None:
        _fail(f"an argument is not UTF-8 text: {unstorable!r}")
    try:
        cli.main(prog_name="authserver")
    except DBAPIError as error:
        if is_missing_schema(error):
            _fail(f"AUTHSERVER_DATABASE_URL: {RUN_INIT}")
        if not isinstance(error, OperationalError | InterfaceError):
            raise
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "unreachable"
        _fail(f"AUTHSERVER_DATABASE_URL: cannot use the database ({reason})")
    except ConfigError as error:
        _fail(str(error))
    except KeyStoreError as error:
        _fail(str(error))


def _fail(message: str) -> None:
    click.echo(f"authserver: {message}", err=True)
    sys.exit(2)


@demo_cli.command("setup")
def demo_setup() -> None:
    """Make (or refresh) the demo person, org and client; print the password."""
    seeded = seed(current_settings().issuer)
    audit.record("demo.seeded", target_type="client", target_id=seeded.client_id)
    db.session.commit()
    base = current_settings().issuer
    click.echo(f"demo person: {seeded.email}  password: {seeded.password}")
    click.echo(
        f"open {base}/demo"
        if current_settings().demo
        else "set AUTHSERVER_DEMO=on to serve the /demo page"
    )


@services_cli.command("sync")
@click.argument("manifest_file", type=click.File("rb"))
@click.option(
    "--prune-assignments",
    is_flag=True,
    help="Also take removed roles away from the members and teams that hold them.",
)
def services_sync(manifest_file: click.utils.LazyFile, prune_assignments: bool) -> None:
    """Apply a manifest (the same JSON as PUT /api/v1/services/{service}/manifest)."""
    document = read_json_file(manifest_file, "MANIFEST_FILE")
    result = _apply_manifest(document, prune=prune_assignments, actor="cli")
    click.echo(json.dumps(result.as_dict(), indent=2))


def _apply_manifest(document: object, *, prune: bool, actor: str) -> SyncResult:
    try:
        result = apply_document(document, prune=prune, via=actor)
    except ManifestInvalid as invalid:
        db.session.rollback()
        raise click.BadParameter(str(invalid), param_hint="MANIFEST_FILE") from None
    except ReservedService as reserved:
        db.session.rollback()
        raise click.BadParameter(str(reserved), param_hint="service") from None
    except RolesInUse as in_use:
        db.session.rollback()
        raise click.ClickException(
            f"{in_use}; run again with --prune-assignments to remove them"
        ) from None
    db.session.commit()
    return result
