"""`authserver api-keys`: an operator lists a person's or an organization's API keys and
revokes one (a leaked key stops at once). People and org admins make keys themselves."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from authserver import audit
from authserver.clock import utcnow
from authserver.extensions import db
from authserver.models import ApiKey, Organization, User
from authserver.numbers import ascii_uuid

api_keys_cli = AppGroup(
    "api-keys", help="API keys of people and organizations (not signing keys: see `keys`)."
)


@api_keys_cli.command("list")
@click.option("--email", help="A person's keys.")
@click.option("--org", "org_slug", help="An organization's keys, by slug.")
@click.option("--json", "as_json", is_flag=True)
def api_keys_list(email: str | None, org_slug: str | None, as_json: bool) -> None:
    """List keys (never the secrets: only their prefixes are kept in the clear)."""
    if (email is None) == (org_slug is None):
        raise click.UsageError("Give exactly one of --email and --org.")
    if email is not None:
        user = User.find_by_email(email)
        if user is None:
            raise click.BadParameter("no such person", param_hint="--email")
        keys = ApiKey.of_user(user.id)
    else:
        organization = Organization.find_by_slug(org_slug or "")
        if organization is None:
            raise click.BadParameter("no such organization", param_hint="--org")
        keys = ApiKey.of_organization(organization.id)
    rows = [_row(key) for key in keys]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        click.echo(f"{row['id']}  {row['prefix']}…  {state:8}  {row['name']}")


@api_keys_cli.command("revoke")
@click.argument("key_id")
def api_keys_revoke(key_id: str) -> None:
    """Revoke the key KEY_ID: no new token is issued for it from now on."""
    try:
        key = db.session.scalar(
            select(ApiKey).where(ApiKey.id == ascii_uuid(key_id)).with_for_update()
        )
    except ValueError:
        key = None
    if key is None:
        raise click.BadParameter("no such key", param_hint="KEY_ID")
    if key.revoked_at is not None:
        click.echo(f"{key.id} was already revoked")
        return
    key.revoked_at = utcnow()
    audit.record(
        "api_key.revoked",
        organization_id=key.organization_id,
        target_type="api_key",
        target_id=str(key.id),
        via="cli",
    )
    db.session.commit()
    click.echo(f"revoked {key.id} ({key.prefix}…)")


def _row(key: ApiKey) -> dict[str, object]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
