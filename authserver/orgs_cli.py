"""`authserver orgs`: the operator's way to put a person in an organization."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from authserver import audit
from authserver.extensions import db
from authserver.models import Organization, User
from authserver.numbers import ascii_uuid
from authserver.orgs import service as orgs

orgs_cli = AppGroup("orgs", help="Organizations: members added by an operator.")


@orgs_cli.command("add-member")
@click.argument("org")
@click.argument("email")
@click.option("--role", "roles", multiple=True, help="A service:role to give; repeat for more.")
def orgs_add_member(org: str, email: str, roles: tuple[str, ...]) -> None:
    """Make the person with EMAIL a member of ORG (its id or slug).

    People otherwise join only by accepting an invitation (POST /api/v1/orgs/{id}/invitations).
    """
    organization = _find_org(org)
    user = User.find_by_email(email)
    if user is None:
        raise click.BadParameter(f"no person with the email {email!r}", param_hint="EMAIL")
    try:
        member = orgs.add_member(organization, user, orgs.resolve_roles(list(roles)))
    except orgs.OrgError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    granted = sorted(role.qualified_name for role in member.roles)
    audit.record(
        "member.added",
        organization_id=organization.id,
        target_type="user",
        target_id=str(user.id),
        member_id=str(member.id),
        roles=granted,
        via="cli",
    )
    db.session.commit()
    click.echo(f"added <{user.email}> to {organization.slug}: {', '.join(granted) or 'no roles'}")


def _find_org(key: str) -> Organization:
    try:
        found = db.session.get(Organization, ascii_uuid(key))
    except ValueError:
        found = Organization.find_by_slug(key)
    if found is None:
        raise click.BadParameter(f"no organization {key!r}", param_hint="ORG")
    return found
